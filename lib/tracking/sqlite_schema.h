/*
 * The schema of a fresh MLflow tracking database, as generated data
 * (lib/tracking/sqlite_schema.c, made by scripts/gen-sqlite-schema).
 */
#ifndef MLF_TRACKING_SQLITE_SCHEMA_H
#define MLF_TRACKING_SQLITE_SCHEMA_H

/* The MLflow release the schema was taken from, e.g. "3.17.2". */
extern const char mlf_sqlite_schema_mlflow_version[];
/* Its alembic head revision: the only one the backend accepts. */
extern const char mlf_sqlite_schema_revision[];
/* The release's earlier revisions, newest first, NULL-terminated. */
extern const char *const mlf_sqlite_schema_older_revisions[];
/* SQL statements (CREATE ... and INSERT ...) to run inside one transaction. */
extern const char mlf_sqlite_schema_sql[];

#endif
