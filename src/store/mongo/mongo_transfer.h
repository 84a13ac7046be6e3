// The MongoDB store's rows for drec migrate (store/transfer/record_tables.h). MongoDB has no
// snapshot across collections without a replica set, so the copy holds the collection set's
// writer lease instead (mongo/writer_lease.h): no drec writes the source or the target while
// it runs, and a drec still running on either makes the copy refuse, naming it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/transfer/record_tables.h"

namespace drec {
class MongoStore;
namespace mongo {
class ClientPool;
}  // namespace mongo

class MongoTransfer final : public transfer::RecordSource, public transfer::RecordSink {
 public:
  // The collection set named after `collection` in `database` as a copy's source: its
  // repository collection must exist. Opening it as drec does takes the writer lease and
  // finishes a batch an interrupted drec left half-applied.
  static Result<std::unique_ptr<MongoTransfer>> OpenSource(const std::string& uri,
                                                           const std::string& database,
                                                           const std::string& collection,
                                                           std::int64_t retention_days);
  // The collection set as a copy's target, with drec's indexes; its writer lease is held until
  // the transfer is destroyed.
  static Result<std::unique_ptr<MongoTransfer>> OpenSink(const std::string& uri,
                                                         const std::string& database,
                                                         const std::string& collection,
                                                         std::int64_t retention_days);
  ~MongoTransfer() override;

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
  MongoTransfer(std::unique_ptr<MongoStore> store, std::unique_ptr<mongo::ClientPool> pool,
                std::string host, std::string database, std::string collection);
  static Result<std::unique_ptr<MongoTransfer>> Open(const std::string& uri,
                                                     const std::string& database,
                                                     const std::string& collection,
                                                     std::int64_t retention_days, bool source);
  std::string CollectionOf(const transfer::Table& table) const;

  // Holds the writer lease; released last.
  std::unique_ptr<MongoStore> store_;
  std::unique_ptr<mongo::ClientPool> pool_;
  const std::string host_, database_, collection_;
};

}  // namespace drec
