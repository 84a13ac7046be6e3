// The PostgreSQL store's rows for drec migrate (store/transfer/record_tables.h): read from one
// REPEATABLE READ snapshot, written in one transaction per chunk with the checkpoint.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/postgresql/pg_connection.h"
#include "store/transfer/record_tables.h"

namespace drec {

class PostgresTransfer final : public transfer::RecordSource, public transfer::RecordSink {
 public:
  // Schema `schema` of the database at `uri` as a copy's source: it must exist; its tables are
  // brought up to date as drec's start-up would. drec replicas may keep writing: the copy reads
  // one snapshot.
  static Result<std::unique_ptr<PostgresTransfer>> OpenSource(const std::string& uri,
                                                              const std::string& schema);
  // Schema `schema` as a copy's target, created with drec's tables when missing.
  static Result<std::unique_ptr<PostgresTransfer>> OpenSink(const std::string& uri,
                                                            const std::string& schema);
  ~PostgresTransfer() override;

  std::string Identity() const override { return identity_; }
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
  PostgresTransfer(std::string identity, std::unique_ptr<pg::Connection> db)
      : identity_(std::move(identity)), db_(std::move(db)) {}
  static Result<std::unique_ptr<PostgresTransfer>> Open(const std::string& uri,
                                                        const std::string& schema, bool must_exist);

  const std::string identity_;
  std::unique_ptr<pg::Connection> db_;
  bool in_snapshot_ = false;
};

}  // namespace drec
