/* In-memory state that authentication must know without a database round trip: each principal's
 * enabled flag, roles, names and password epoch, and the set of revoked token ids. Loaded in full
 * at start-up and after every reconnect of the notification listener; kept current by this
 * process's own changes and by other replicas' notifications. Thread-safe (readers share a lock).
 */
#ifndef OSC_PCACHE_H
#define OSC_PCACHE_H

#include <stdint.h>

#include "oscred/err.h"
#include "oscred/model.h"

typedef struct osc_pcache osc_pcache;

struct osc_pcache_entry {
    char id[OSC_ID_LEN + 1];
    char domain_id[OSC_ID_LEN + 1];
    char domain_name[OSC_NAME_MAX + 1];
    char name[OSC_NAME_MAX + 1];
    enum osc_kind kind;
    int enabled; /* principal and its domain both enabled */
    unsigned roles;
    uint32_t password_epoch;
};

enum osc_pcache_state {
    OSC_PCACHE_MISSING = 0, /* never heard of: the caller may ask the database */
    OSC_PCACHE_FOUND = 1,
    OSC_PCACHE_DELETED = 2, /* known to be gone */
};

/* tombstone_ttl_us: how long a deleted principal stays known as deleted (the longest a token of
 * it can live); after that its tokens would be refused by expiry, or by a database lookup. */
osc_err osc_pcache_create(int64_t tombstone_ttl_us, osc_pcache **out);
void osc_pcache_destroy(osc_pcache *pc);

/* A ticket to take just before reading (or writing) a principal in the database, and to hand to
 * osc_pcache_put with what was read. Tickets increase, and a put whose ticket is older than the
 * entry's own is dropped: a login that read the principal before a password change and puts it
 * after its slow hash loses to the change's own put and to its notification's re-read, which
 * began after the change committed. Between two writes on one replica ticket order need not be
 * commit order; the notification each change sends sets the entry right afterwards. */
uint64_t osc_pcache_ticket(osc_pcache *pc);
/* Inserts or replaces the entry of p (no password hash is kept) unless the entry came from a read
 * with a newer ticket; a principal already recorded as deleted stays deleted. */
osc_err osc_pcache_put(osc_pcache *pc, const struct osc_principal *p, uint64_t ticket);
/* Records that a principal is gone. */
osc_err osc_pcache_remove(osc_pcache *pc, const char *id);
/* Copies the entry of id into *out when found. */
enum osc_pcache_state osc_pcache_get(osc_pcache *pc, const char *id, struct osc_pcache_entry *out);

/* A full reload: begin returns a generation, every osc_pcache_put after it stamps its entry,
 * and end marks the principals the reload did not see as deleted. The reload's own puts take
 * one ticket after begin. */
unsigned osc_pcache_begin_reload(osc_pcache *pc);
void osc_pcache_end_reload(osc_pcache *pc, unsigned generation);

/* Revoked token ids, kept until they would have expired anyway. */
osc_err osc_pcache_revoke(osc_pcache *pc, const char *token_id, int64_t expires_us);
int osc_pcache_is_revoked(osc_pcache *pc, const char *token_id);

#endif
