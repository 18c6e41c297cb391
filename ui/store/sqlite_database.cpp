#include "store/sqlite_database.h"

#include <QStringList>

#include <sqlite3.h>

namespace peregrine::ui {
namespace {

std::string describe(const QString& path, std::string_view what, sqlite3* db, int code) {
    std::string message = path.toStdString() + ": " + std::string(what) + ": ";
    message += db ? sqlite3_errmsg(db) : sqlite3_errstr(code);
    message += " (SQLite code " + std::to_string(code) + ")";
    return message;
}

}  // namespace

bool StoreError::meansCorruptFile() const {
    return sqliteCode_ == SQLITE_CORRUPT || sqliteCode_ == SQLITE_NOTADB;
}

// ---- SqliteStatement --------------------------------------------------------------------------------

SqliteStatement::SqliteStatement(sqlite3* db, std::string_view sql, const QString& dbPath)
    : db_(db), dbPath_(dbPath) {
    const int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr);
    if (rc != SQLITE_OK) {
        throw StoreError(describe(dbPath_, "cannot prepare \"" + std::string(sql) + "\"", db_, rc), rc & 0xff);
    }
}

SqliteStatement::~SqliteStatement() {
    if (stmt_) sqlite3_finalize(stmt_);
}

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept
    : db_(other.db_), stmt_(other.stmt_), dbPath_(other.dbPath_) {
    other.stmt_ = nullptr;
}

void SqliteStatement::fail(int code, const char* what) const {
    const char* sql = stmt_ ? sqlite3_sql(stmt_) : "";
    throw StoreError(describe(dbPath_, std::string(what) + " \"" + sql + "\"", db_, code), code & 0xff);
}

SqliteStatement& SqliteStatement::bind(int index, int64_t value) {
    const int rc = sqlite3_bind_int64(stmt_, index, value);
    if (rc != SQLITE_OK) fail(rc, "cannot bind an integer in");
    return *this;
}

SqliteStatement& SqliteStatement::bind(int index, const QString& value) {
    const QByteArray utf8 = value.toUtf8();
    const int rc = sqlite3_bind_text(stmt_, index, utf8.constData(), static_cast<int>(utf8.size()),
                                     SQLITE_TRANSIENT);
    if (rc != SQLITE_OK) fail(rc, "cannot bind text in");
    return *this;
}

SqliteStatement& SqliteStatement::bindNull(int index) {
    const int rc = sqlite3_bind_null(stmt_, index);
    if (rc != SQLITE_OK) fail(rc, "cannot bind null in");
    return *this;
}

bool SqliteStatement::step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(rc, "cannot run");
}

void SqliteStatement::run() {
    while (step()) {
    }
}

void SqliteStatement::reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

int64_t SqliteStatement::columnInt(int column) const { return sqlite3_column_int64(stmt_, column); }

QString SqliteStatement::columnText(int column) const {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return text ? QString::fromUtf8(text, sqlite3_column_bytes(stmt_, column)) : QString();
}

bool SqliteStatement::columnIsNull(int column) const {
    return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

// ---- SqliteDatabase ---------------------------------------------------------------------------------

SqliteDatabase::SqliteDatabase(const QString& path) : path_(path) {
    const QByteArray file = path.toUtf8();
    const int rc = sqlite3_open_v2(file.constData(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    if (rc != SQLITE_OK) {
        const StoreError error(describe(path_, "cannot open", db_, rc), rc & 0xff);
        sqlite3_close(db_);
        db_ = nullptr;
        throw error;
    }
    sqlite3_extended_result_codes(db_, 1);
    try {
        // A second copy of the app (or the export) may hold the lock for a moment: wait, do not fail.
        sqlite3_busy_timeout(db_, 3000);
        // The first statement reads the header: a file that is not a database fails here (SQLITE_NOTADB).
        prepare("SELECT count(*) FROM sqlite_master").run();
        exec("PRAGMA foreign_keys = ON");
        // WAL: a reply being saved never blocks readers, and a killed process leaves a consistent file.
        // synchronous=FULL syncs the WAL on every commit, so a power cut loses only uncommitted work
        // (the streaming saver commits at least once a second).
        prepare("PRAGMA journal_mode = WAL").run();
        exec("PRAGMA synchronous = FULL");
    } catch (...) {
        sqlite3_close(db_);
        db_ = nullptr;
        throw;
    }
}

SqliteDatabase::~SqliteDatabase() {
    if (db_) sqlite3_close(db_);
}

void SqliteDatabase::exec(std::string_view sql) {
    const std::string text(sql);
    char* error = nullptr;
    const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error);
    if (rc != SQLITE_OK) {
        std::string message = path_.toStdString() + ": cannot run \"" + text + "\": " +
                              (error ? error : sqlite3_errstr(rc)) + " (SQLite code " + std::to_string(rc) + ")";
        sqlite3_free(error);
        throw StoreError(message, rc & 0xff);
    }
}

SqliteStatement SqliteDatabase::prepare(std::string_view sql) { return SqliteStatement(db_, sql, path_); }

int SqliteDatabase::userVersion() {
    SqliteStatement statement = prepare("PRAGMA user_version");
    return statement.step() ? static_cast<int>(statement.columnInt(0)) : 0;
}

void SqliteDatabase::setUserVersion(int version) {
    // PRAGMA takes no bound parameters; the value is an int we formatted ourselves.
    exec("PRAGMA user_version = " + std::to_string(version));
}

int64_t SqliteDatabase::lastInsertId() const { return sqlite3_last_insert_rowid(db_); }

int SqliteDatabase::changes() const { return sqlite3_changes(db_); }

bool SqliteDatabase::inTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

std::string SqliteDatabase::journalMode() {
    SqliteStatement statement = prepare("PRAGMA journal_mode");
    return statement.step() ? statement.columnText(0).toStdString() : std::string();
}

QString SqliteDatabase::integrityCheck(bool quick) {
    SqliteStatement statement = prepare(quick ? "PRAGMA quick_check" : "PRAGMA integrity_check");
    QStringList problems;
    while (statement.step()) problems << statement.columnText(0);
    return problems.join('\n');
}

// ---- Transaction ------------------------------------------------------------------------------------

Transaction::Transaction(SqliteDatabase& db) : db_(db), nested_(db.inTransaction()) {
    // IMMEDIATE takes the write lock up front, so a transaction never fails half-way on SQLITE_BUSY.
    db_.exec(nested_ ? "SAVEPOINT nested" : "BEGIN IMMEDIATE");
}

Transaction::~Transaction() {
    if (done_) return;
    try {
        db_.exec(nested_ ? "ROLLBACK TO nested; RELEASE nested" : "ROLLBACK");
    } catch (const StoreError&) {
        // The connection already rolled back (e.g. after an I/O error); nothing left to undo.
    }
}

void Transaction::commit() {
    db_.exec(nested_ ? "RELEASE nested" : "COMMIT");
    done_ = true;
}

}  // namespace peregrine::ui
