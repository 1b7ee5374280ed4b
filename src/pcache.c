/* The principal cache and the revoked-token set: string-keyed hash maps of pointers behind one
 * reader-writer lock. Reads (every token check) take the shared lock only.
 *
 * Every principal of the database lives here, so an entry is kept small: the name is stored at
 * its length, and the domain (id and name, shared by every principal of it) is interned once. */
#include "oscred/pcache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oscred/ctx.h"

struct domain {
    struct domain *retired_next; /* earlier names of a renamed domain, freed at destroy */
    char id[OSC_ID_LEN + 1];
    char name[];
};

struct principal {
    char id[OSC_ID_LEN + 1];
    unsigned char state; /* enum osc_pcache_state: FOUND or DELETED */
    unsigned char kind;
    unsigned char enabled;
    unsigned roles;
    uint32_t password_epoch;
    unsigned generation;         /* the full load that last confirmed the entry */
    uint64_t ticket;             /* of the read the entry came from */
    int64_t forget_at_us;        /* a tombstone, once every token it could refuse has expired */
    const struct domain *domain; /* NULL for a tombstone */
    char name[];
};

struct revoked {
    int64_t expires_us;
    char id[OSC_ID_LEN + 1];
};

/* Open addressing, linear probing; entries start with their NUL-terminated key (offset 0 of
 * every entry type above but struct domain, whose key is at offsetof(struct domain, id)). */
struct map {
    void **slots;
    size_t cap; /* power of two */
    size_t used;
    size_t key_offset;
};

struct osc_pcache {
    pthread_rwlock_t lock;
    struct map principals;
    struct map revoked;
    struct map domains;
    struct domain *retired;
    unsigned generation;
    _Atomic uint64_t tickets;
    int64_t tombstone_ttl_us;
};

#define MIN_CAP 1024

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a: keys are random ids, no adversarial choice */
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
    return h;
}

static const char *key_of(const struct map *m, const void *entry)
{
    return (const char *)entry + m->key_offset;
}

static int map_init(struct map *m, size_t cap, size_t key_offset)
{
    m->slots = calloc(cap, sizeof(*m->slots));
    m->cap = cap;
    m->used = 0;
    m->key_offset = key_offset;
    return m->slots ? 0 : -1;
}

static void map_free(struct map *m)
{
    for (size_t i = 0; m->slots && i < m->cap; i++)
        free(m->slots[i]);
    free(m->slots);
    m->slots = NULL;
}

/* The slot holding key, or the empty slot where it would go. */
static void **find(const struct map *m, const char *key)
{
    size_t i = (size_t)hash(key) & (m->cap - 1);

    for (;;) {
        void **s = &m->slots[i];
        if (!*s || strcmp(key_of(m, *s), key) == 0)
            return s;
        i = (i + 1) & (m->cap - 1);
    }
}

/* Rebuilds the table without the entries expired(entry, now) says are done with (freed), at a
 * size that leaves the live ones a load factor of at most 1/4. */
static int rebuild(struct map *m, int (*expired)(const void *, int64_t))
{
    struct map n;
    size_t live = 0, cap = MIN_CAP;
    int64_t now = osc_now_us();

    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i] && !(expired && expired(m->slots[i], now)))
            live++;
    while (cap < 4 * live)
        cap *= 2;
    if (map_init(&n, cap, m->key_offset))
        return -1;
    for (size_t i = 0; i < m->cap; i++) {
        void *e = m->slots[i];
        if (!e)
            continue;
        if (expired && expired(e, now)) {
            free(e);
            continue;
        }
        *find(&n, key_of(m, e)) = e;
        n.used++;
    }
    free(m->slots);
    *m = n;
    return 0;
}

/* The slot for key, making room first when the table is half full. */
static void **slot_for(struct map *m, const char *key, int (*expired)(const void *, int64_t))
{
    if ((m->used + 1) * 2 > m->cap && rebuild(m, expired))
        return NULL;
    return find(m, key);
}

/* Puts entry into the empty or matching slot s, freeing the entry it replaces. */
static void place(struct map *m, void **s, void *entry)
{
    if (*s)
        free(*s);
    else
        m->used++;
    *s = entry;
}

static int principal_expired(const void *e, int64_t now)
{
    const struct principal *p = e;
    return p->state == OSC_PCACHE_DELETED && p->forget_at_us <= now;
}

static int revoked_expired(const void *e, int64_t now)
{
    return ((const struct revoked *)e)->expires_us < now;
}

osc_err osc_pcache_create(int64_t tombstone_ttl_us, osc_pcache **out)
{
    osc_pcache *pc = calloc(1, sizeof(*pc));

    if (!pc)
        return OSC_E_INTERNAL;
    if (map_init(&pc->principals, MIN_CAP, offsetof(struct principal, id)) ||
        map_init(&pc->revoked, MIN_CAP, offsetof(struct revoked, id)) ||
        map_init(&pc->domains, 64, offsetof(struct domain, id))) {
        map_free(&pc->principals);
        map_free(&pc->revoked);
        map_free(&pc->domains);
        free(pc);
        return OSC_E_INTERNAL;
    }
    pthread_rwlock_init(&pc->lock, NULL);
    pc->tombstone_ttl_us = tombstone_ttl_us;
    *out = pc;
    return OSC_OK;
}

void osc_pcache_destroy(osc_pcache *pc)
{
    if (!pc)
        return;
    pthread_rwlock_destroy(&pc->lock);
    map_free(&pc->principals);
    map_free(&pc->revoked);
    map_free(&pc->domains);
    while (pc->retired) {
        struct domain *d = pc->retired;
        pc->retired = d->retired_next;
        free(d);
    }
    free(pc);
}

/* The interned domain (id, name); a domain seen under a new name gets a new record, and the old
 * one stays alive (principals may point at it) until destroy. */
static const struct domain *intern_domain(osc_pcache *pc, const char *id, const char *name)
{
    size_t len = strnlen(name, OSC_NAME_MAX);
    void **s = slot_for(&pc->domains, id, NULL);
    struct domain *d;

    if (!s)
        return NULL;
    d = *s;
    if (d && strcmp(d->name, name) == 0)
        return d;
    d = malloc(sizeof(*d) + len + 1);
    if (!d)
        return NULL;
    d->retired_next = NULL;
    snprintf(d->id, sizeof(d->id), "%s", id);
    memcpy(d->name, name, len);
    d->name[len] = '\0';
    if (*s) { /* renamed */
        struct domain *old = *s;
        old->retired_next = pc->retired;
        pc->retired = old;
        *s = d;
    } else {
        *s = d;
        pc->domains.used++;
    }
    return d;
}

uint64_t osc_pcache_ticket(osc_pcache *pc)
{
    return atomic_fetch_add(&pc->tickets, 1) + 1;
}

osc_err osc_pcache_put(osc_pcache *pc, const struct osc_principal *p, uint64_t ticket)
{
    osc_err err = OSC_E_INTERNAL;
    size_t len = strnlen(p->name, OSC_NAME_MAX);
    struct principal *e;
    void **s;

    pthread_rwlock_wrlock(&pc->lock);
    s = slot_for(&pc->principals, p->id, principal_expired);
    if (!s)
        goto out;
    /* A tombstone is final: ids are never reused, so a put that arrives after the delete carries
     * what a database read saw before it (a lookup racing the delete). */
    if (*s && ((struct principal *)*s)->state == OSC_PCACHE_DELETED) {
        err = OSC_OK;
        goto out;
    }
    if (*s && ((struct principal *)*s)->ticket > ticket) {
        err = OSC_OK;
        goto out;
    }
    e = calloc(1, sizeof(*e) + len + 1);
    if (!e)
        goto out;
    e->domain = intern_domain(pc, p->domain_id, p->domain_name);
    if (!e->domain) {
        free(e);
        goto out;
    }
    snprintf(e->id, sizeof(e->id), "%s", p->id);
    memcpy(e->name, p->name, len);
    e->state = OSC_PCACHE_FOUND;
    e->kind = (unsigned char)p->kind;
    e->enabled = p->enabled && p->domain_enabled;
    e->roles = p->roles;
    e->password_epoch = p->password_epoch;
    e->generation = pc->generation;
    e->ticket = ticket;
    place(&pc->principals, s, e);
    err = OSC_OK;
out:
    pthread_rwlock_unlock(&pc->lock);
    return err;
}

/* Turns the slot's entry (or an empty slot) into a tombstone for id. */
static int bury(osc_pcache *pc, void **s, const char *id)
{
    struct principal *e = calloc(1, sizeof(*e) + 1);

    if (!e)
        return -1;
    snprintf(e->id, sizeof(e->id), "%s", id);
    e->state = OSC_PCACHE_DELETED;
    /* Kept while a token of the principal could still be presented: a deleted principal must not
     * look "unknown", which would send its tokens to the database. */
    e->forget_at_us = osc_now_us() + pc->tombstone_ttl_us;
    place(&pc->principals, s, e);
    return 0;
}

osc_err osc_pcache_remove(osc_pcache *pc, const char *id)
{
    osc_err err = OSC_E_INTERNAL;
    void **s;

    pthread_rwlock_wrlock(&pc->lock);
    s = slot_for(&pc->principals, id, principal_expired);
    if (s && !bury(pc, s, id))
        err = OSC_OK;
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
        struct principal *e = pc->principals.slots[i];
        /* Not seen by the full load that just finished (nor changed since): gone. A failed
         * allocation leaves the stale entry; the next reload tries again. */
        if (e && e->state == OSC_PCACHE_FOUND && e->generation < generation)
            (void)bury(pc, &pc->principals.slots[i], e->id);
    }
    pthread_rwlock_unlock(&pc->lock);
}

/* Names in the cache were cut to OSC_NAME_MAX when stored. */
static void copy_name(char out[OSC_NAME_MAX + 1], const char *name)
{
    size_t n = strlen(name);
    memcpy(out, name, n + 1);
}

enum osc_pcache_state osc_pcache_get(osc_pcache *pc, const char *id, struct osc_pcache_entry *out)
{
    enum osc_pcache_state st = OSC_PCACHE_MISSING;
    const struct principal *e;

    pthread_rwlock_rdlock(&pc->lock);
    e = *find(&pc->principals, id);
    if (e)
        st = (enum osc_pcache_state)e->state;
    if (st == OSC_PCACHE_FOUND) {
        /* Every token check copies an entry: plain copies, no printf, no full memset. */
        memcpy(out->id, e->id, sizeof(out->id));
        memcpy(out->domain_id, e->domain->id, sizeof(out->domain_id));
        copy_name(out->domain_name, e->domain->name);
        copy_name(out->name, e->name);
        out->kind = (enum osc_kind)e->kind;
        out->enabled = e->enabled;
        out->roles = e->roles;
        out->password_epoch = e->password_epoch;
    }
    pthread_rwlock_unlock(&pc->lock);
    return st;
}

osc_err osc_pcache_revoke(osc_pcache *pc, const char *token_id, int64_t expires_us)
{
    osc_err err = OSC_E_INTERNAL;
    struct revoked *r;
    void **s;

    pthread_rwlock_wrlock(&pc->lock);
    s = slot_for(&pc->revoked, token_id, revoked_expired);
    r = s ? malloc(sizeof(*r)) : NULL;
    if (r) {
        snprintf(r->id, sizeof(r->id), "%s", token_id);
        r->expires_us = expires_us;
        place(&pc->revoked, s, r);
        err = OSC_OK;
    }
    pthread_rwlock_unlock(&pc->lock);
    return err;
}

int osc_pcache_is_revoked(osc_pcache *pc, const char *token_id)
{
    int revoked;

    pthread_rwlock_rdlock(&pc->lock);
    revoked = *find(&pc->revoked, token_id) != NULL;
    pthread_rwlock_unlock(&pc->lock);
    return revoked;
}
