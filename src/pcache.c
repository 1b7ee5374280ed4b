/* The principal cache and the revoked-token set: two string-keyed hash maps behind one
 * reader-writer lock. Reads (every token check) take the shared lock only. */
#include "oscred/pcache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oscred/ctx.h"

struct slot {
    char key[OSC_ID_LEN + 1]; /* "" = empty */
    enum osc_pcache_state state;
    struct osc_pcache_entry e; /* principals */
    int64_t expires_us;        /* revoked tokens */
    unsigned generation;       /* principals: the load that last confirmed the entry */
};

struct map {
    struct slot *slots;
    size_t cap; /* power of two */
    size_t used;
};

struct osc_pcache {
    pthread_rwlock_t lock;
    struct map principals;
    struct map revoked;
    unsigned generation;
};

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a: keys are random ids, no adversarial choice */
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
    return h;
}

static int map_init(struct map *m, size_t cap)
{
    m->slots = calloc(cap, sizeof(*m->slots));
    m->cap = cap;
    m->used = 0;
    return m->slots ? 0 : -1;
}

static struct slot *find(const struct map *m, const char *key)
{
    size_t i = (size_t)hash(key) & (m->cap - 1);

    for (;;) {
        struct slot *s = &m->slots[i];
        if (!s->key[0] || strcmp(s->key, key) == 0)
            return s;
        i = (i + 1) & (m->cap - 1);
    }
}

/* Keeps the load factor under 1/2; drop_expired discards revoked tokens that expired. */
static int grow(struct map *m, int drop_expired)
{
    struct map n;
    int64_t now = osc_now_us();

    if (map_init(&n, m->cap * 2))
        return -1;
    for (size_t i = 0; i < m->cap; i++) {
        struct slot *s = &m->slots[i];
        if (!s->key[0] || (drop_expired && s->expires_us < now))
            continue;
        *find(&n, s->key) = *s;
        n.used++;
    }
    free(m->slots);
    *m = n;
    return 0;
}

static struct slot *upsert(struct map *m, const char *key, int drop_expired)
{
    struct slot *s;

    if ((m->used + 1) * 2 > m->cap && grow(m, drop_expired))
        return NULL;
    s = find(m, key);
    if (!s->key[0]) {
        snprintf(s->key, sizeof(s->key), "%s", key);
        m->used++;
    }
    return s;
}

osc_err osc_pcache_create(osc_pcache **out)
{
    osc_pcache *pc = calloc(1, sizeof(*pc));

    if (!pc || map_init(&pc->principals, 1024) || map_init(&pc->revoked, 256)) {
        if (pc) {
            free(pc->principals.slots);
            free(pc->revoked.slots);
        }
        free(pc);
        return OSC_E_INTERNAL;
    }
    pthread_rwlock_init(&pc->lock, NULL);
    *out = pc;
    return OSC_OK;
}

void osc_pcache_destroy(osc_pcache *pc)
{
    if (!pc)
        return;
    pthread_rwlock_destroy(&pc->lock);
    free(pc->principals.slots);
    free(pc->revoked.slots);
    free(pc);
}

osc_err osc_pcache_put(osc_pcache *pc, const struct osc_principal *p)
{
    osc_err err = OSC_OK;
    struct slot *s;

    pthread_rwlock_wrlock(&pc->lock);
    s = upsert(&pc->principals, p->id, 0);
    if (!s) {
        err = OSC_E_INTERNAL;
    } else {
        s->state = OSC_PCACHE_FOUND;
        s->generation = pc->generation;
        memset(&s->e, 0, sizeof(s->e));
        snprintf(s->e.id, sizeof(s->e.id), "%s", p->id);
        snprintf(s->e.domain_id, sizeof(s->e.domain_id), "%s", p->domain_id);
        snprintf(s->e.domain_name, sizeof(s->e.domain_name), "%s", p->domain_name);
        snprintf(s->e.name, sizeof(s->e.name), "%s", p->name);
        s->e.kind = p->kind;
        s->e.enabled = p->enabled && p->domain_enabled;
        s->e.roles = p->roles;
        s->e.password_epoch = p->password_epoch;
    }
    pthread_rwlock_unlock(&pc->lock);
    return err;
}

osc_err osc_pcache_remove(osc_pcache *pc, const char *id)
{
    osc_err err = OSC_OK;
    struct slot *s;

    pthread_rwlock_wrlock(&pc->lock);
    s = upsert(&pc->principals, id, 0);
    if (!s) {
        err = OSC_E_INTERNAL;
    } else {
        /* A tombstone, not an empty slot: a deleted principal must not look "unknown", which
         * would send its tokens to the database. */
        s->state = OSC_PCACHE_DELETED;
        memset(&s->e, 0, sizeof(s->e));
    }
    pthread_rwlock_unlock(&pc->lock);
    return err;
}

unsigned osc_pcache_begin_reload(osc_pcache *pc)
{
    unsigned gen;

    pthread_rwlock_wrlock(&pc->lock);
    gen = ++pc->generation;
    pthread_rwlock_unlock(&pc->lock);
    return gen;
}

void osc_pcache_end_reload(osc_pcache *pc, unsigned generation)
{
    pthread_rwlock_wrlock(&pc->lock);
    for (size_t i = 0; i < pc->principals.cap; i++) {
        struct slot *s = &pc->principals.slots[i];
        /* Not seen by the full load that just finished (nor changed since): gone. */
        if (s->key[0] && s->state == OSC_PCACHE_FOUND && s->generation < generation) {
            s->state = OSC_PCACHE_DELETED;
            memset(&s->e, 0, sizeof(s->e));
        }
    }
    pthread_rwlock_unlock(&pc->lock);
}

enum osc_pcache_state osc_pcache_get(osc_pcache *pc, const char *id, struct osc_pcache_entry *out)
{
    enum osc_pcache_state st;
    struct slot *s;

    pthread_rwlock_rdlock(&pc->lock);
    s = find(&pc->principals, id);
    st = s->key[0] ? s->state : OSC_PCACHE_MISSING;
    if (st == OSC_PCACHE_FOUND)
        *out = s->e;
    pthread_rwlock_unlock(&pc->lock);
    return st;
}

osc_err osc_pcache_revoke(osc_pcache *pc, const char *token_id, int64_t expires_us)
{
    osc_err err = OSC_OK;
    struct slot *s;

    pthread_rwlock_wrlock(&pc->lock);
    s = upsert(&pc->revoked, token_id, 1);
    if (!s) {
        err = OSC_E_INTERNAL;
    } else {
        s->state = OSC_PCACHE_FOUND;
        s->expires_us = expires_us;
    }
    pthread_rwlock_unlock(&pc->lock);
    return err;
}

int osc_pcache_is_revoked(osc_pcache *pc, const char *token_id)
{
    int revoked;

    pthread_rwlock_rdlock(&pc->lock);
    revoked = find(&pc->revoked, token_id)->key[0] != '\0';
    pthread_rwlock_unlock(&pc->lock);
    return revoked;
}
