/* The migrations embedded in the binary at build time (generated from migrations/). */
#ifndef OSC_MIGRATE_H
#define OSC_MIGRATE_H

struct osc_migration {
    int version;
    const char *name;
    const char *sql;
};

extern const struct osc_migration osc_migrations[];
extern const int osc_migrations_count;

#endif
