// A thin RAII layer over the SQLite C API: one connection, prepared statements and transactions.
// Every failure throws StoreError naming the database file, the SQL and SQLite's own message, so the app
// can show it as is.
#pragma once

#include <QString>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace peregrine::ui {

class StoreError : public std::runtime_error {
public:
    StoreError(const std::string& message, int sqliteCode = 0)
        : std::runtime_error(message), sqliteCode_(sqliteCode) {}
    int sqliteCode() const { return sqliteCode_; }  // primary result code (SQLITE_CORRUPT...), 0 if none

    // True for the codes that mean "this file is not a usable database" (as opposed to busy, read-only...).
    bool meansCorruptFile() const;

private:
    int sqliteCode_;
};

class SqliteStatement {
public:
    SqliteStatement(sqlite3* db, std::string_view sql, const QString& dbPath);
    ~SqliteStatement();
    SqliteStatement(SqliteStatement&& other) noexcept;
    SqliteStatement(const SqliteStatement&) = delete;
    SqliteStatement& operator=(const SqliteStatement&) = delete;
    SqliteStatement& operator=(SqliteStatement&&) = delete;

    // Parameters are 1-based, as in SQLite.
    SqliteStatement& bind(int index, int64_t value);
    SqliteStatement& bind(int index, const QString& value);
    SqliteStatement& bindNull(int index);

    bool step();  // true: a row is ready; false: done. Throws on error.
    void run();   // steps to the end, for statements that return no rows
    void reset();

    int64_t columnInt(int column) const;
    QString columnText(int column) const;
    bool columnIsNull(int column) const;

private:
    [[noreturn]] void fail(int code, const char* what) const;

    sqlite3* db_;
    sqlite3_stmt* stmt_ = nullptr;
    QString dbPath_;
};

class SqliteDatabase {
public:
    // Opens (creating if needed) the file with foreign keys on, WAL journaling and full sync, and checks
    // that it really is a database. ":memory:" gives a private in-memory database.
    explicit SqliteDatabase(const QString& path);
    ~SqliteDatabase();
    SqliteDatabase(const SqliteDatabase&) = delete;
    SqliteDatabase& operator=(const SqliteDatabase&) = delete;

    const QString& path() const { return path_; }
    sqlite3* handle() const { return db_; }

    void exec(std::string_view sql);  // one or more statements, no parameters, no rows
    SqliteStatement prepare(std::string_view sql);

    int userVersion();
    void setUserVersion(int version);
    int64_t lastInsertId() const;
    int changes() const;
    bool inTransaction() const;
    std::string journalMode();

    // "ok" or SQLite's list of problems. quick_check skips the index/content cross-checks.
    QString integrityCheck(bool quick = false);

private:
    QString path_;
    sqlite3* db_ = nullptr;
};

// Commits on commit(), rolls back when destroyed without it. Nested use becomes a savepoint, so a
// table method that opens its own transaction can also run inside a caller's larger one.
class Transaction {
public:
    explicit Transaction(SqliteDatabase& db);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;

    void commit();

private:
    SqliteDatabase& db_;
    bool nested_;
    bool done_ = false;
};

}  // namespace peregrine::ui
