#include "mongo_test_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

#include "store/mongo/mongo_driver.h"

namespace drec::testing {
namespace {

using Clock = std::chrono::steady_clock;

// A port the kernel just had free; FerretDB binds it a moment later, and Start retries when
// another process took it in between.
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

bool Accepts(std::uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool connected = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return connected;
}

}  // namespace

std::string FerretDbBinary() {
  if (const char* given = std::getenv("DREC_FERRETDB"); given != nullptr && *given != '\0') {
    return given;
  }
  const char* cache = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  const std::filesystem::path base = cache != nullptr && *cache != '\0'
                                         ? std::filesystem::path(cache)
                                     : home != nullptr ? std::filesystem::path(home) / ".cache"
                                                       : std::filesystem::path();
  const std::filesystem::path cached = base / "drec" / "ferretdb-v1.24.2" / "ferretdb";
  return !base.empty() && std::filesystem::exists(cached) ? cached.string() : std::string();
}

std::unique_ptr<FerretDb> FerretDb::Start(const std::string& binary, std::string* why) {
  std::string dir = (std::filesystem::path(::testing::TempDir()) / "drec-ferretdb-XXXXXX");
  if (mkdtemp(dir.data()) == nullptr) {
    *why = "cannot create a data directory";
    return nullptr;
  }
  std::unique_ptr<FerretDb> server(new FerretDb(binary, dir));
  for (int attempt = 0; attempt < 3; ++attempt) {
    server->port_ = FreePort();
    if (server->Launch(why)) return server;
  }
  return nullptr;
}

FerretDb::~FerretDb() {
  Stop();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

bool FerretDb::Launch(std::string* why) {
  const std::string log = dir_ + "/ferretdb.log";
  std::vector<std::string> args = {binary_,
                                   "--handler=sqlite",
                                   "--sqlite-url=file:" + dir_ + "/",
                                   "--listen-addr=127.0.0.1:" + std::to_string(port_),
                                   "--state-dir=" + dir_,
                                   "--telemetry=disable",
                                   "--debug-addr=-",
                                   "--log-level=warn"};
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    // The server dies with the test process, even when a test crashes: nothing outlives it.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    const int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out >= 0) {
      dup2(out, STDOUT_FILENO);
      dup2(out, STDERR_FILENO);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  if (pid < 0) {
    *why = "fork failed";
    return false;
  }
  pid_ = pid;
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline) {
    if (Accepts(port_)) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      *why = "ferretdb exited at start-up, see " + log;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Stop();
  *why = "ferretdb did not listen within 20 s, see " + log;
  return false;
}

void FerretDb::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
}

bool FerretDb::Restart(std::string* why) { return Launch(why); }

std::string FerretDb::uri() const { return "mongodb://127.0.0.1:" + std::to_string(port_) + "/"; }

MongoTestServer* MongoTestServer::Shared(std::string* why) {
  static std::string failure;
  static std::unique_ptr<MongoTestServer> shared = []() -> std::unique_ptr<MongoTestServer> {
    if (const char* uri = std::getenv("DREC_TEST_MONGODB_URI"); uri != nullptr && *uri != '\0') {
      return std::unique_ptr<MongoTestServer>(new MongoTestServer(uri, nullptr));
    }
    const std::string binary = FerretDbBinary();
    if (binary.empty()) {
      failure =
          "no MongoDB server: set DREC_TEST_MONGODB_URI, or DREC_FERRETDB, or run "
          "scripts/build-ferretdb.sh";
      return nullptr;
    }
    auto process = FerretDb::Start(binary, &failure);
    if (process == nullptr) return nullptr;
    const std::string uri = process->uri();
    return std::unique_ptr<MongoTestServer>(new MongoTestServer(uri, std::move(process)));
  }();
  if (shared == nullptr) *why = failure;
  return shared.get();
}

std::string MongoTestServer::FreshDatabase() {
  return fmt::format("drec_test_{}_{}", getpid(), next_database_++);
}

void MongoTestServer::DropDatabase(const std::string& name) {
  mongo::InitializeDriver();
  mongoc_client_t* client = mongoc_client_new(uri_.c_str());
  if (client == nullptr) return;
  mongoc_database_t* database = mongoc_client_get_database(client, name.c_str());
  mongoc_database_drop(database, nullptr);
  mongoc_database_destroy(database);
  mongoc_client_destroy(client);
}

std::string FindOne(const std::string& uri, const std::string& database,
                    const std::string& collection, const std::string& filter, JsonForm form,
                    bool without_id) {
  mongo::InitializeDriver();
  bson_error_t error;
  mongo::Bson query(bson_new_from_json(reinterpret_cast<const std::uint8_t*>(filter.data()),
                                       static_cast<ssize_t>(filter.size()), &error));
  mongoc_client_t* client = mongoc_client_new(uri.c_str());
  mongoc_collection_t* coll =
      mongoc_client_get_collection(client, database.c_str(), collection.c_str());
  mongo::Bson opts;
  if (without_id) {
    mongo::AppendDocument(opts.get(), "projection",
                          [](bson_t* p) { mongo::Append(p, "_id", std::int64_t{0}); });
  }
  mongoc_cursor_t* cursor =
      mongoc_collection_find_with_opts(coll, query.get(), opts.get(), nullptr);
  const bson_t* doc = nullptr;
  std::string result;
  if (mongoc_cursor_next(cursor, &doc)) {
    char* text = form == JsonForm::kCanonical ? bson_as_canonical_extended_json(doc, nullptr)
                                              : bson_as_relaxed_extended_json(doc, nullptr);
    result = text;
    bson_free(text);
  }
  mongoc_cursor_destroy(cursor);
  mongoc_collection_destroy(coll);
  mongoc_client_destroy(client);
  return result;
}

}  // namespace drec::testing
