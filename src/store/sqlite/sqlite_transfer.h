// The embedded store's rows for drec migrate (store/transfer/record_tables.h): read from one
// read transaction of the file, written in one write transaction per chunk with the checkpoint.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/transfer/record_tables.h"

namespace drec {
namespace sqlite {
class Connection;
class Transaction;
}  // namespace sqlite

class SqliteTransfer final : public transfer::RecordSource, public transfer::RecordSink {
 public:
  // The file at `path` as a copy's source: it must exist; its schema is brought up to date as
  // drec's start-up would. drec may keep running on it: the copy reads one snapshot (WAL).
  static Result<std::unique_ptr<SqliteTransfer>> OpenSource(const std::string& path);
  // The file at `path` as a copy's target, created with drec's schema when missing.
  static Result<std::unique_ptr<SqliteTransfer>> OpenSink(const std::string& path);
  ~SqliteTransfer() override;

  std::string Identity() const override;
  Status BeginSnapshot() override;
  Result<std::int64_t> CountRows(const transfer::Table& table) override;
  Result<std::vector<transfer::Row>> ReadRows(const transfer::Table& table,
                                              const std::optional<transfer::Key>& after,
                                              std::size_t limit) override;
  Result<std::optional<std::string>> ReadCheckpoint() override;
  Result<bool> HoldsRecords() override;
  Status WriteRows(const transfer::Table& table, const std::vector<transfer::Row>& rows,
                   const std::string& checkpoint) override;

 private:
  SqliteTransfer(std::string path, std::unique_ptr<sqlite::Connection> db);
  static Result<std::unique_ptr<SqliteTransfer>> Open(const std::string& path);

  const std::string path_;
  std::unique_ptr<sqlite::Connection> db_;
  // The source's read transaction, from BeginSnapshot on.
  std::unique_ptr<sqlite::Transaction> snapshot_;
};

}  // namespace drec
