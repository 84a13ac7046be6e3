// The MongoDB store's writer lease (src/store/mongo/writer_lease.h): one drec writes a collection
// set at a time. A second store is refused while the first runs, a stopped or killed writer's
// successor gets the lease, and a writer whose lease passed to another writes nothing. Then the
// same with real drec processes. Against FerretDB these tests show the lease's logic and the one
// server guarantee it rests on (a duplicate _id insert fails, even when racing); they cannot show
// behaviour under a replica set's failover (docs/mongodb.md#what-the-ferretdb-tests-show).
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <latch>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "deltas.h"
#include "mongo_test_server.h"
#include "store/mongo/mongo_driver.h"
#include "store/mongo/mongo_store.h"
#include "store/mongo/process_identity.h"

namespace drec {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;
using testing::kT;
using testing::Pull;

// Short enough that a test waits for expiry in seconds, long enough for a loaded machine to
// renew in time (every second).
constexpr milliseconds kShortLease{3000};

Batch PullOf(const std::string& id, const std::string& repository) {
  return Batch{{{id, kT, {RepositoryUpdate{repository, Pull(kT), "amy", std::nullopt}}}}};
}

class MongoLeaseTest : public testing::MongoDatabaseTest {
 protected:
  Result<std::unique_ptr<MongoStore>> Open(milliseconds lease = MongoStore::kDefaultLeaseDuration,
                                           const std::string& collection = "repositories") {
    return MongoStore::Open(server_->uri(), database_, collection, 0, lease);
  }

  std::unique_ptr<MongoStore> MustOpen(milliseconds lease = MongoStore::kDefaultLeaseDuration) {
    auto store = Open(lease);
    EXPECT_TRUE(store.ok()) << store.status().message();
    return store.ok() ? std::move(*store) : nullptr;
  }

  // The newest lease document of `repositories`, or an empty document.
  mongo::Bson NewestLease() {
    mongo::InitializeDriver();
    mongoc_client_t* client = mongoc_client_new(server_->uri().c_str());
    mongoc_collection_t* meta =
        mongoc_client_get_collection(client, database_.c_str(), "repositories.meta");
    mongo::Bson filter;
    mongo::Append(filter.get(), "lease", "writer");
    mongo::Bson opts;
    mongo::AppendDocument(opts.get(), "sort",
                          [](bson_t* sort) { mongo::Append(sort, "epoch", std::int64_t{-1}); });
    mongoc_cursor_t* cursor =
        mongoc_collection_find_with_opts(meta, filter.get(), opts.get(), nullptr);
    const bson_t* doc = nullptr;
    mongo::Bson newest =
        mongoc_cursor_next(cursor, &doc) ? mongo::Bson(bson_copy(doc)) : mongo::Bson();
    mongoc_cursor_destroy(cursor);
    mongoc_collection_destroy(meta);
    mongoc_client_destroy(client);
    return newest;
  }

  // Writes a lease document as another drec would have left it.
  void PlantLease(std::int64_t epoch, const mongo::ProcessIdentity& process,
                  UnixMillis expires_at) {
    mongo::InitializeDriver();
    mongoc_client_t* client = mongoc_client_new(server_->uri().c_str());
    mongoc_collection_t* meta =
        mongoc_client_get_collection(client, database_.c_str(), "repositories.meta");
    mongo::Bson doc;
    mongo::Append(doc.get(), "_id", fmt::format("writer.{}", epoch));
    mongo::Append(doc.get(), "lease", "writer");
    mongo::Append(doc.get(), "epoch", epoch);
    mongo::Append(doc.get(), "writer", fmt::format("{}:{}:planted", process.host, process.pid));
    mongo::Append(doc.get(), "host", process.host);
    mongo::Append(doc.get(), "pid", process.pid);
    mongo::Append(doc.get(), "boot_id", process.boot_id);
    mongo::Append(doc.get(), "pid_namespace", process.pid_namespace);
    mongo::Append(doc.get(), "start_ticks", process.start_ticks);
    mongo::Append(doc.get(), "acquired_at", mongo::Date{expires_at - 60'000});
    mongo::Append(doc.get(), "renewed_at", mongo::Date{expires_at - 30'000});
    mongo::Append(doc.get(), "expires_at", mongo::Date{expires_at});
    mongo::Append(doc.get(), "released", false);
    bson_error_t error;
    EXPECT_TRUE(mongoc_collection_insert_one(meta, doc.get(), nullptr, nullptr, &error))
        << error.message;
    mongoc_collection_destroy(meta);
    mongoc_client_destroy(client);
  }
};

// A drec on another machine, as far as this one can tell.
mongo::ProcessIdentity Elsewhere() { return {"other-host", 4242, "another-boot", "pid:[1]", 99}; }

TEST_F(MongoLeaseTest, ASecondStoreIsRefusedWhileTheFirstRunsNamingIt) {
  auto first = MustOpen(kShortLease);
  ASSERT_NE(first, nullptr);
  // The same process looks like a drec elsewhere: the second store watches the lease until the
  // first renews it (every second), and then refuses.
  auto second = Open(kShortLease);
  ASSERT_FALSE(second.ok());
  const std::string& message = second.status().message();
  EXPECT_EQ(second.status().code(), Status::Code::kInvalidArgument) << message;
  for (const std::string& part :
       {std::string("collection repositories of database ") + database_,
        fmt::format("pid {}", getpid()), std::string("renewed the lease while this drec waited"),
        std::string("run one drec per database and collection"), std::string("PostgreSQL")}) {
    EXPECT_NE(message.find(part), std::string::npos) << part << " not in: " << message;
  }
  EXPECT_TRUE(first->Apply(PullOf("a", "app"), nullptr).ok());
  EXPECT_TRUE(first->Ping().ok());
  // Another collection set of the same database has a lease of its own.
  auto other = Open(kShortLease, "other");
  EXPECT_TRUE(other.ok()) << other.status().message();
}

TEST_F(MongoLeaseTest, AStoppedWritersSuccessorStartsAtOnce) {
  auto first = MustOpen();
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(first->Apply(PullOf("a", "app"), nullptr).ok());
  first.reset();
  EXPECT_TRUE(mongo::BoolField(NewestLease().get(), "released"));
  const auto start = Clock::now();
  auto second = MustOpen();
  ASSERT_NE(second, nullptr);
  EXPECT_LT(Clock::now() - start, MongoStore::kDefaultLeaseDuration / 3);
  const mongo::Bson lease = NewestLease();
  EXPECT_EQ(mongo::Int64Field(lease.get(), "epoch"), 2);
  EXPECT_EQ(mongo::Int64Field(lease.get(), "pid"), getpid());
  EXPECT_FALSE(mongo::BoolField(lease.get(), "released"));
  ApplyOutcome again;
  ASSERT_TRUE(second->Apply(PullOf("a", "app"), &again).ok());
  EXPECT_EQ(again.duplicates, 1);
}

TEST_F(MongoLeaseTest, AKilledWritersLeaseElsewhereIsTakenWhenItExpires) {
  const UnixMillis expires_at = NowMillis() + 2000;
  PlantLease(7, Elsewhere(), expires_at);
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  // FerretDB runs on this machine: its clock is the test's.
  EXPECT_GE(NowMillis(), expires_at);
  const mongo::Bson lease = NewestLease();
  EXPECT_EQ(mongo::Int64Field(lease.get(), "epoch"), 8);
  EXPECT_EQ(mongo::Int64Field(lease.get(), "pid"), getpid());
  EXPECT_TRUE(store->Apply(PullOf("a", "app"), nullptr).ok());
}

TEST_F(MongoLeaseTest, AnExpiredLeaseIsTakenAtOnce) {
  PlantLease(3, Elsewhere(), NowMillis() - 1000);
  const auto start = Clock::now();
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  EXPECT_LT(Clock::now() - start, MongoStore::kDefaultLeaseDuration / 3);
  EXPECT_EQ(mongo::Int64Field(NewestLease().get(), "epoch"), 4);
}

TEST_F(MongoLeaseTest, ALeaseOfADrecThatNoLongerRunsOnThisMachineIsTakenAtOnce) {
  // A process of this machine that has ended (and been reaped): its pid names no process.
  const pid_t child = fork();
  if (child == 0) _exit(0);
  ASSERT_GT(child, 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  mongo::ProcessIdentity gone = mongo::ThisProcess();
  if (gone.boot_id.empty() || gone.pid_namespace.empty()) GTEST_SKIP() << "no /proc";
  gone.pid = child;
  PlantLease(1, gone, NowMillis() + 60'000);
  const auto start = Clock::now();
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  EXPECT_LT(Clock::now() - start, MongoStore::kDefaultLeaseDuration / 3);
  EXPECT_EQ(mongo::Int64Field(NewestLease().get(), "epoch"), 2);
}

TEST_F(MongoLeaseTest, AWriterWhoseLeasePassedToAnotherWritesNothing) {
  auto paused = MustOpen(kShortLease);
  ASSERT_NE(paused, nullptr);
  ASSERT_TRUE(paused->Apply(PullOf("before", "app"), nullptr).ok());
  // Paused (a stopped process, a frozen VM): its lease expires, and another drec takes it.
  paused->StopRenewingLeaseForTesting();
  auto successor = MustOpen(kShortLease);
  ASSERT_NE(successor, nullptr);

  const Status refused = paused->Apply(PullOf("late", "late-repository"), nullptr);
  EXPECT_EQ(refused.code(), Status::Code::kUnavailable) << refused.message();
  EXPECT_NE(refused.message().find("written by another drec"), std::string::npos)
      << refused.message();
  EXPECT_EQ(paused->Ping().code(), Status::Code::kUnavailable);
  EXPECT_EQ(paused->PruneEventIds(NowMillis()).code(), Status::Code::kUnavailable);
  // Nothing of the refused batch was written: not its repository, not its event id.
  auto late = successor->GetRepository("late-repository");
  ASSERT_TRUE(late.ok());
  EXPECT_FALSE(late->has_value());
  ApplyOutcome outcome;
  ASSERT_TRUE(successor->Apply(PullOf("late", "late-repository"), &outcome).ok());
  EXPECT_EQ(outcome.applied, 1);

  // Once the successor stops, the paused writer takes the lease again by itself.
  successor.reset();
  ASSERT_TRUE(paused->Apply(PullOf("after", "app"), &outcome).ok());
  EXPECT_EQ(outcome.applied, 1);
  auto app = paused->GetRepository("app");
  ASSERT_TRUE(app.ok() && app->has_value());
  EXPECT_EQ((*app)->counters.counts[Counter::kPulls], 2);
}

TEST_F(MongoLeaseTest, OfSeveralDrecsRacingForAnExpiredLeaseExactlyOneWins) {
  // The one server guarantee the lease rests on: of concurrent inserts of one _id, one succeeds.
  PlantLease(1, Elsewhere(), NowMillis() - 1000);
  constexpr int kRacers = 6;
  std::latch start(kRacers);
  std::vector<std::unique_ptr<MongoStore>> winners(kRacers);
  std::vector<Status> failures(kRacers);
  std::vector<std::thread> racers;
  racers.reserve(kRacers);
  for (int i = 0; i < kRacers; ++i) {
    racers.emplace_back([&, i] {
      start.arrive_and_wait();
      auto store = Open(kShortLease);
      if (store.ok()) {
        winners[i] = std::move(*store);
      } else {
        failures[i] = store.status();
      }
    });
  }
  for (std::thread& racer : racers) racer.join();
  int won = 0;
  for (int i = 0; i < kRacers; ++i) {
    if (winners[i] != nullptr) {
      ++won;
    } else {
      EXPECT_EQ(failures[i].code(), Status::Code::kInvalidArgument) << failures[i].message();
    }
  }
  EXPECT_EQ(won, 1);
  EXPECT_EQ(mongo::Int64Field(NewestLease().get(), "epoch"), 2);
}

// ---------------------------------------------------------------------------------------------
// Real drec processes.

std::uint16_t FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof addr;
  std::uint16_t port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

// One drec process on the test's database, its output in a file.
class DrecProcess {
 public:
  DrecProcess(const std::filesystem::path& dir, const std::string& name, const std::string& uri,
              const std::string& database)
      : log_(dir / (name + ".log")) {
    std::vector<std::string> args = {DREC_BINARY,
                                     "--storage-backend=mongodb",
                                     "--storage-mongodb-uri=" + uri,
                                     "--storage-mongodb-database=" + database,
                                     "--server-port=" + std::to_string(FreePort()),
                                     "--server-ssl-generated-dir=" + (dir / "tls").string(),
                                     "--auth-tokens=lease-test-token"};
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      const int out = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (out >= 0) {
        dup2(out, STDOUT_FILENO);
        dup2(out, STDERR_FILENO);
      }
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~DrecProcess() { Signal(SIGKILL); }
  DrecProcess(const DrecProcess&) = delete;
  DrecProcess& operator=(const DrecProcess&) = delete;

  pid_t pid() const { return pid_; }

  // Sends `signal` and reaps the process; its exit status, as waitpid gives it.
  int Signal(int signal) {
    if (pid_ <= 0) return status_;
    kill(pid_, signal);
    waitpid(pid_, &status_, 0);
    pid_ = -1;
    return status_;
  }

  // Waits until the process exits by itself (true), or `limit` passes (false).
  bool Exited(Clock::duration limit) {
    const auto deadline = Clock::now() + limit;
    while (pid_ > 0 && Clock::now() < deadline) {
      if (waitpid(pid_, &status_, WNOHANG) == pid_) {
        pid_ = -1;
        return true;
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
    return pid_ <= 0;
  }
  int status() const { return status_; }

  std::string Output() const {
    std::ifstream in(log_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  std::filesystem::path log_;
  pid_t pid_ = -1;
  int status_ = 0;
};

class DrecLeaseTest : public MongoLeaseTest {
 protected:
  void SetUp() override {
    MongoLeaseTest::SetUp();
    if (IsSkipped()) return;
    std::string dir = (std::filesystem::path(::testing::TempDir()) / "drec-lease-XXXXXX");
    ASSERT_NE(mkdtemp(dir.data()), nullptr);
    dir_ = dir;
  }
  void TearDown() override {
    MongoLeaseTest::TearDown();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<DrecProcess> Start(const std::string& name) {
    return std::make_unique<DrecProcess>(dir_, name, server_->uri(), database_);
  }

  // Waits until `drec` holds the lease (its pid is in the newest lease document).
  bool HoldsLease(const DrecProcess& drec, Clock::duration limit) {
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      const mongo::Bson lease = NewestLease();
      if (mongo::Int64Field(lease.get(), "pid") == drec.pid() &&
          !mongo::BoolField(lease.get(), "released")) {
        return true;
      }
      std::this_thread::sleep_for(milliseconds(50));
    }
    return false;
  }

  std::filesystem::path dir_;
};

TEST_F(DrecLeaseTest, ASecondDrecOnTheSameCollectionsExitsNamingTheFirst) {
  auto first = Start("first");
  ASSERT_TRUE(HoldsLease(*first, seconds(20))) << first->Output();

  auto second = Start("second");
  // It runs on this machine, so the second drec need not wait for the lease to expire.
  ASSERT_TRUE(second->Exited(MongoStore::kDefaultLeaseDuration / 3)) << second->Output();
  EXPECT_TRUE(WIFEXITED(second->status()) && WEXITSTATUS(second->status()) != 0)
      << second->status();
  const std::string output = second->Output();
  for (const std::string& part :
       {std::string("storage.mongodb: collection repositories of database ") + database_,
        fmt::format("pid {}", first->pid()), std::string("it runs on this machine"),
        std::string("run one drec per database and collection")}) {
    EXPECT_NE(output.find(part), std::string::npos) << part << " not in:\n" << output;
  }

  // After kill -9 the next drec on this machine sees that the holder is gone and starts at once.
  first->Signal(SIGKILL);
  auto third = Start("third");
  ASSERT_TRUE(HoldsLease(*third, MongoStore::kDefaultLeaseDuration / 3)) << third->Output();
  // Stopped cleanly, it releases the lease.
  const int stopped = third->Signal(SIGTERM);
  EXPECT_TRUE(WIFEXITED(stopped) && WEXITSTATUS(stopped) == 0) << third->Output();
  EXPECT_TRUE(mongo::BoolField(NewestLease().get(), "released")) << third->Output();
}

}  // namespace
}  // namespace drec
