// The chat database schema, as an ordered list of migrations keyed on PRAGMA user_version.
// Migration N takes a database at version N-1 to version N; a new database runs them all. Never edit a
// shipped migration: add the next one (users' files are at every version that ever shipped).
#pragma once

#include <string_view>
#include <vector>

namespace peregrine::ui {

class SqliteDatabase;

struct SchemaMigration {
    int version;           // user_version after this step
    std::string_view sql;  // statements run in one transaction with the version bump
};

const std::vector<SchemaMigration>& schemaMigrations();
int latestSchemaVersion();

// Brings `db` to latestSchemaVersion(), each step in its own transaction. Throws StoreError when the file
// comes from a newer Peregrine (user_version above what this build knows) or a step fails (the file is
// then left at the last version that completed).
void migrateSchema(SqliteDatabase& db);

// Runs migrations 1..version only: tests use it to build a file as an older release left it.
void migrateSchemaTo(SqliteDatabase& db, int version);

}  // namespace peregrine::ui
