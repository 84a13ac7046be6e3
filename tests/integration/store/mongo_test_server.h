// A MongoDB-protocol server for the tests: an external MongoDB when DREC_TEST_MONGODB_URI names
// one, otherwise FerretDB (scripts/build-ferretdb.sh) on its embedded SQLite backend, started on
// a free loopback port and stopped again by the test process.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

namespace drec::testing {

// One FerretDB process with its own data directory.
class FerretDb {
 public:
  // Starts `binary` on a free loopback port, with its data in a new directory; nullptr (and
  // the reason in `why`) when it does not come up.
  static std::unique_ptr<FerretDb> Start(const std::string& binary, std::string* why);
  // Stops the process and removes its data.
  ~FerretDb();
  FerretDb(const FerretDb&) = delete;
  FerretDb& operator=(const FerretDb&) = delete;

  // Stops the process and keeps its data, as an outage would.
  void Stop();
  // Starts it again on the same port with the same data; false when it does not come up.
  bool Restart(std::string* why);

  std::string uri() const;

 private:
  FerretDb(std::string binary, std::string dir)
      : binary_(std::move(binary)), dir_(std::move(dir)) {}
  bool Launch(std::string* why);

  std::string binary_;
  std::string dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

// How FindOne writes a document: canonical extended JSON shows the BSON types
// ({"$numberLong": ...}, {"$date": ...}), relaxed JSON reads as plain numbers.
enum class JsonForm { kRelaxed, kCanonical };

// The first document of `collection` in `database` on the server at `uri` that matches the
// extended-JSON `filter`, without its `_id` when `without_id`; "" when none matches. Reads as
// another tool would, on a connection of its own.
std::string FindOne(const std::string& uri, const std::string& database,
                    const std::string& collection, const std::string& filter, JsonForm form,
                    bool without_id);

// The FerretDB binary the tests use: $DREC_FERRETDB, else the one scripts/build-ferretdb.sh
// caches; empty when there is neither.
std::string FerretDbBinary();

// The server the MongoDB tests of this process share, started on first use.
class MongoTestServer {
 public:
  // nullptr, with the reason in `why`, when no server is configured or it does not start.
  static MongoTestServer* Shared(std::string* why);

  const std::string& uri() const { return uri_; }
  // A database name no other test of any process on this server uses.
  std::string FreshDatabase();
  void DropDatabase(const std::string& name);

 private:
  explicit MongoTestServer(std::string uri, std::unique_ptr<FerretDb> process)
      : uri_(std::move(uri)), process_(std::move(process)) {}

  std::string uri_;
  std::unique_ptr<FerretDb> process_;
  int next_database_ = 0;
};

// A test on a database of its own on the shared server, dropped at the end; skipped when no
// server is available. A fixture that holds a store resets it before this TearDown.
class MongoDatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    server_ = MongoTestServer::Shared(&why);
    if (server_ == nullptr) GTEST_SKIP() << why;
    database_ = server_->FreshDatabase();
  }

  void TearDown() override {
    if (server_ != nullptr) server_->DropDatabase(database_);
  }

  MongoTestServer* server_ = nullptr;
  std::string database_;
};

}  // namespace drec::testing
