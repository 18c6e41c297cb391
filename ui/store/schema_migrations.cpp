#include "store/schema_migrations.h"

#include <string>

#include "store/sqlite_database.h"

namespace peregrine::ui {
namespace {

// Times are milliseconds since the Unix epoch (UTC). Messages are ordered by id within a conversation.
constexpr std::string_view kVersion1 = R"sql(
CREATE TABLE conversations (
    id         INTEGER PRIMARY KEY,
    title      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role            TEXT    NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
    content         TEXT    NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
)sql";

// Version 2: a system prompt per conversation; per message its streaming state (so a reply cut off by a
// crash is recognisable) and its generation stats as JSON (model, tokens, tok/s).
constexpr std::string_view kVersion2 = R"sql(
ALTER TABLE conversations ADD COLUMN system_prompt TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN state TEXT NOT NULL DEFAULT 'complete';
ALTER TABLE messages ADD COLUMN stats TEXT NOT NULL DEFAULT '';
CREATE INDEX conversations_by_update ON conversations(updated_at DESC);
)sql";

// Version 3: the alternatives of a reply that was regenerated as several samples, as a JSON array of
// strings ('' for a single reply); `content` keeps the chosen one.
constexpr std::string_view kVersion3 = R"sql(
ALTER TABLE messages ADD COLUMN alternatives TEXT NOT NULL DEFAULT '';
)sql";

void runMigrations(SqliteDatabase& db, int target) {
    const int current = db.userVersion();
    if (current > latestSchemaVersion()) {
        throw StoreError(db.path().toStdString() + ": the chat history has schema version " +
                         std::to_string(current) + " but this Peregrine knows only up to " +
                         std::to_string(latestSchemaVersion()) + " (it was written by a newer release)");
    }
    for (const SchemaMigration& migration : schemaMigrations()) {
        if (migration.version <= current || migration.version > target) continue;
        Transaction transaction(db);
        db.exec(migration.sql);
        db.setUserVersion(migration.version);
        transaction.commit();
    }
}

}  // namespace

const std::vector<SchemaMigration>& schemaMigrations() {
    static const std::vector<SchemaMigration> migrations = {{1, kVersion1}, {2, kVersion2}, {3, kVersion3}};
    return migrations;
}

int latestSchemaVersion() { return schemaMigrations().back().version; }

void migrateSchema(SqliteDatabase& db) { runMigrations(db, latestSchemaVersion()); }

void migrateSchemaTo(SqliteDatabase& db, int version) { runMigrations(db, version); }

}  // namespace peregrine::ui
