// The HTTP surface over real TLS, with the real SQLite store behind it:
// status codes of the ingest operation (docs/openapi.json), authentication, and the query API.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "../../unit/example_files.h"
#include "api/router.h"
#include "auth/authenticator.h"
#include "http/server.h"
#include "http/tls_context.h"
#include "pipeline/committer.h"
#include "pipeline/readiness.h"
#include "store/sqlite/sqlite_store.h"
#include "tls_client.h"

namespace drec {
namespace {

using testing::TlsClient;
namespace http = boost::beast::http;
const std::map<std::string, std::string> kAuth = {{"Authorization", "Bearer token-b"}};
const std::string kEventsV1 = "application/vnd.docker.distribution.events.v1+json";

std::string Example(const std::string& name) { return testing::ReadExample(name); }

// Lets a test make the store fail, as a full disk or a lost database would.
class SwitchableStore : public Store {
 public:
  explicit SwitchableStore(Store& real) : real_(real) {}
  std::atomic<bool> failing{false};
  Status Apply(const Batch& batch, ApplyOutcome* outcome) override {
    if (failing) return Status::Unavailable("disk on fire");
    return real_.Apply(batch, outcome);
  }
  Status Ping() override { return failing ? Status::Unavailable("disk on fire") : real_.Ping(); }
  Status PruneEventIds(UnixMillis cutoff) override { return real_.PruneEventIds(cutoff); }
  Result<RepositoryPage> ListRepositories(const RepositoryQuery& q) override {
    return real_.ListRepositories(q);
  }
  Result<Summary> Summarize(const std::string& f, const std::string& t) override {
    return real_.Summarize(f, t);
  }
  Result<std::optional<RepositoryRecord>> GetRepository(const std::string& n) override {
    return real_.GetRepository(n);
  }
  Result<std::vector<TagRecord>> ListTags(const std::string& r) override {
    return real_.ListTags(r);
  }
  Result<std::vector<DigestRecord>> ListDigests(const std::string& r) override {
    return real_.ListDigests(r);
  }
  Result<std::vector<ActorRecord>> ListActors(const std::string& r) override {
    return real_.ListActors(r);
  }
  Result<std::vector<DayRecord>> ListDays(const std::string& r, const std::string& f,
                                          const std::string& t) override {
    return real_.ListDays(r, f, t);
  }
  Result<std::vector<ClassRecord>> ListClasses(const std::string& r, const ClassQuery& q) override {
    return real_.ListClasses(r, q);
  }

 private:
  Store& real_;
};

class IngestApiTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(1024); }
  void TearDown() override { Stop(); }

  void Start(std::int64_t queue_capacity) {
    dir_ = std::filesystem::temp_directory_path() /
           ("drec-http-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    files_ = {(dir_ / "cert.pem").string(), (dir_ / "key.pem").string()};
    ASSERT_TRUE(GenerateSelfSignedCertificate(files_, 1).ok());
    auto store = SqliteStore::Open((dir_ / "drec.db").string());
    ASSERT_TRUE(store.ok()) << store.status().message();
    sqlite_ = std::move(store).value();
    store_ = std::make_unique<SwitchableStore>(*sqlite_);
    auth_ = std::make_unique<Authenticator>(std::vector<std::string>{"token-a", "token-b"},
                                            std::vector<BasicUser>{{"registry", "pw"}});
    committer_ = std::make_unique<Committer>(*store_, metrics_,
                                             Committer::Options{.queue_capacity = queue_capacity});
    ingest_ =
        std::make_unique<IngestEndpoint>(DeletePolicy::kKeep, classifier_, *committer_, metrics_);
    registries_ = std::make_unique<RegistrySet>(
        std::map<std::string, Store*, std::less<>>{{"default", store_.get()}});
    readiness_ = std::make_unique<Readiness>([this] { return registries_->Ping(); },
                                             [this] { return committer_->health(); }, metrics_,
                                             Readiness::Options{});
    router_ = std::make_unique<Router>(RouterParts{.ingest_route = "/events",
                                                   .auth = *auth_,
                                                   .ingest = *ingest_,
                                                   .registries = *registries_,
                                                   .metrics = metrics_,
                                                   .readiness = *readiness_,
                                                   .retention_policy_file = {},
                                                   .retention_registry_budget = {}},
                                       QueryWorkerOptions{});
    Settings settings;
    auto tls = MakeTlsContext(settings, files_);
    ASSERT_TRUE(tls.ok()) << tls.status().message();
    ServerOptions options;
    options.endpoint = {boost::asio::ip::make_address("127.0.0.1"), 0};
    options.threads = 2;
    options.max_body_bytes = 64 * 1024;
    options.idle_timeout = std::chrono::milliseconds(300);
    options.tls = std::move(tls).value();
    server_ = std::make_unique<HttpServer>(options, *router_, metrics_);
    ASSERT_TRUE(server_->Start().ok());
  }

  void Stop() {
    if (server_) server_->Stop(std::chrono::seconds(5));
    if (committer_) committer_->Stop();
    server_.reset();
    router_.reset();
    readiness_.reset();
    ingest_.reset();
    committer_.reset();
    store_.reset();
    sqlite_.reset();
    std::filesystem::remove_all(dir_);
  }

  TlsClient Client() { return TlsClient(server_->port(), files_.cert); }

  TlsClient::Response Post(const std::string& body,
                           const std::map<std::string, std::string>& auth = kAuth,
                           const std::string& content_type = kEventsV1) {
    auto headers = auth;
    headers["Content-Type"] = content_type;
    return Client().Send(http::verb::post, "/events", body, headers);
  }

  boost::json::value GetJson(const std::string& target, unsigned expected_status = 200) {
    auto res = Client().Send(http::verb::get, target, "", kAuth);
    EXPECT_EQ(res.result_int(), expected_status) << target << ": " << res.body();
    EXPECT_EQ(res[http::field::content_type], "application/json");
    return boost::json::parse(res.body());
  }

  std::filesystem::path dir_;
  CertificateFiles files_;
  const Classifier classifier_ = DefaultClassifier();
  Metrics metrics_{classifier_.ClassNames()};
  std::unique_ptr<SqliteStore> sqlite_;
  std::unique_ptr<SwitchableStore> store_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<Committer> committer_;
  std::unique_ptr<IngestEndpoint> ingest_;
  std::unique_ptr<RegistrySet> registries_;
  std::unique_ptr<Readiness> readiness_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(IngestApiTest, CountsARealStreamAndAnswersTheApi) {
  for (const char* file : {"manifest-push-tagged.json", "manifest-pull-head.json",
                           "manifest-pull-get.json", "blob-pull-get.json"}) {
    auto res = Post(Example(file));
    ASSERT_EQ(res.result_int(), 200) << file << ": " << res.body();
  }
  auto repo = GetJson("/api/v1/repositories/team/app").as_object();
  EXPECT_EQ(repo["repositoryname"], "team/app");
  EXPECT_EQ(repo["numpushs"], 1);
  EXPECT_EQ(repo["numpulls"], 1);
  EXPECT_EQ(repo["numchecks"], 1);
  EXPECT_EQ(repo["numindexpulls"], 0);
  EXPECT_EQ(repo["firstpushed"], testing::ExampleMillis("manifest-push-tagged.json").c_str());
  EXPECT_EQ(repo["lastpulled"], testing::ExampleMillis("manifest-pull-get.json").c_str());
  EXPECT_EQ(repo["tags"], boost::json::array({"v1"}));
  EXPECT_EQ(repo["numstars"], 0);

  auto tags = GetJson("/api/v1/repositories/team%2Fapp/-/tags").as_object();
  ASSERT_EQ(tags["tags"].as_array().size(), 1u);
  auto tag = tags["tags"].as_array()[0].as_object();
  EXPECT_EQ(tag["tag"], "v1");
  EXPECT_EQ(tag["digest"],
            testing::ExampleString("manifest-push-tagged.json", "target/digest").c_str());
  EXPECT_EQ(tag["deleted"], false);
  EXPECT_EQ(tag["numpulls"], 1);
  EXPECT_EQ(tag["numchecks"], 1);

  auto list = GetJson("/api/v1/repositories?sort=-numpulls").as_object();
  EXPECT_EQ(list["total"], 1);
  EXPECT_EQ(list["repositories"].as_array()[0].as_object()["repositoryname"], "team/app");

  const std::string metrics = Client().Send(http::verb::get, "/metrics").body();
  EXPECT_NE(metrics.find("drec_events_received_total 4"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("drec_events_ignored_total{reason=\"blob\"} 1"), std::string::npos);
  EXPECT_NE(metrics.find("drec_events_applied_total 3"), std::string::npos);
}

TEST_F(IngestApiTest, ARetriedEventIsCountedOnce) {
  const std::string body = Example("manifest-pull-get.json");
  EXPECT_EQ(Post(body).result_int(), 200);
  EXPECT_EQ(Post(body).result_int(), 200);
  EXPECT_EQ(GetJson("/api/v1/repositories/team/app").as_object()["numpulls"], 1);
  EXPECT_EQ(metrics_.events_duplicate(), 1);
}

TEST_F(IngestApiTest, CredentialsAreCheckedOnIngestAndApi) {
  const std::string body = Example("manifest-pull-get.json");
  auto missing = Post(body, {});
  EXPECT_EQ(missing.result_int(), 401);
  EXPECT_NE(missing[http::field::www_authenticate].find("Bearer"), std::string::npos);
  EXPECT_EQ(Post(body, {{"Authorization", "Bearer token-c"}}).result_int(), 401);
  EXPECT_EQ(Client().Send(http::verb::get, "/api/v1/repositories").result_int(), 401);
  // Nothing was stored by the refused requests.
  EXPECT_EQ(GetJson("/api/v1/repositories").as_object()["total"], 0);
  // Either token of a rotation, and basic users, are accepted.
  EXPECT_EQ(Post(body, {{"Authorization", "Bearer token-a"}}).result_int(), 200);
  EXPECT_EQ(Post(body, {{"Authorization", "Basic cmVnaXN0cnk6cHc="}}).result_int(), 200);
}

TEST_F(IngestApiTest, StatusCodesOfTheIngestRoute) {
  const std::string body = Example("manifest-pull-get.json");
  EXPECT_EQ(Post(body, kAuth, "text/plain").result_int(), 415);
  EXPECT_EQ(Post(body, kAuth, "application/json; charset=utf-8").result_int(), 200);
  EXPECT_EQ(Post("{\"events\": 7}").result_int(), 400);
  EXPECT_EQ(Post("not json").result_int(), 400);
  auto get = Client().Send(http::verb::get, "/events", "", kAuth);
  EXPECT_EQ(get.result_int(), 405);
  EXPECT_EQ(get[http::field::allow], "POST");
  EXPECT_EQ(Client().Send(http::verb::get, "/nowhere").result_int(), 404);
}

TEST_F(IngestApiTest, UselessEventsAreAcknowledgedNotRejected) {
  auto res = Post(R"({"events":[{"id":"x","action":"tickle"},{"nonsense":true},7]})");
  EXPECT_EQ(res.result_int(), 200);
  const std::string metrics = Client().Send(http::verb::get, "/metrics").body();
  EXPECT_NE(metrics.find("drec_events_ignored_total{reason=\"missing_id\"} 2"), std::string::npos);
  EXPECT_NE(metrics.find("drec_events_ignored_total{reason=\"bad_timestamp\"} 1"),
            std::string::npos);
}

TEST_F(IngestApiTest, BodyOverTheLimitIs413AndNotRead) {
  TlsClient client = Client();
  const std::string head =
      "POST /events HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer token-b\r\n"
      "Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n";
  auto res = client.SendRaw(head);
  EXPECT_EQ(res.result_int(), 413);
  EXPECT_FALSE(res.keep_alive());
}

// The checks Handle makes before a route's handler are made on the header alone (Screen), so
// a request without credentials is answered before its body is read.
TEST_F(IngestApiTest, ScreenAnswersFromTheHeaderAlone) {
  auto header = [](http::verb method, const std::string& target, bool credentials) {
    HttpRequestHeader h;
    h.method(method);
    h.target(target);
    h.version(11);
    if (credentials) h.set(http::field::authorization, "Bearer token-b");
    return h;
  };
  auto status = [this](const HttpRequestHeader& h) -> unsigned {
    auto refusal = router_->Screen(h);
    return refusal ? refusal->result_int() : 0;
  };
  EXPECT_EQ(status(header(http::verb::post, "/events", false)), 401u);
  EXPECT_EQ(status(header(http::verb::post, "/events", true)), 0u);
  EXPECT_EQ(status(header(http::verb::get, "/events", true)), 405u);
  EXPECT_EQ(status(header(http::verb::get, "/events", false)), 401u);  // methods not revealed
  EXPECT_EQ(status(header(http::verb::get, "/nowhere", true)), 404u);
  EXPECT_EQ(status(header(http::verb::get, "/healthz", false)), 0u);
  EXPECT_EQ(status(header(http::verb::head, "/api/v1/summary", true)), 0u);
  EXPECT_EQ(status(header(http::verb::get, "nothing-like-a-path", true)), 400u);
}

TEST_F(IngestApiTest, ABodyWithoutCredentialsIsRefusedBeforeItIsSent) {
  TlsClient client = Client();
  // Only the header: an answer proves the server did not wait for the body.
  const std::string head =
      "POST /events HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
      "Content-Length: 60000\r\n\r\n";
  auto res = client.SendRaw(head);
  EXPECT_EQ(res.result_int(), 401);
  EXPECT_FALSE(res.keep_alive());
}

TEST_F(IngestApiTest, ExpectContinueIsAnsweredAfterTheScreen) {
  TlsClient client = Client();
  const std::string head =
      "POST /nowhere HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer token-b\r\n"
      "Expect: 100-continue\r\nContent-Length: 10\r\n\r\n";
  // Refused by the screen: the final answer, no 100 Continue.
  EXPECT_EQ(client.SendRaw(head).result_int(), 404);

  // Passed: 100 Continue, then the body, then the final answer.
  TlsClient accepted = Client();
  const std::string body = Example("manifest-pull-get.json");
  const std::string post =
      "POST /events HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer token-b\r\n"
      "Content-Type: " +
      kEventsV1 + "\r\nExpect: 100-continue\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n";
  EXPECT_EQ(accepted.SendRaw(post).result_int(), 100);
  EXPECT_EQ(accepted.SendRaw(body).result_int(), 200);
}

TEST_F(IngestApiTest, StoreFailureIs503WithRetryAfterAndLosesNothing) {
  const std::string body = Example("manifest-pull-get.json");
  store_->failing = true;
  auto res = Post(body);
  EXPECT_EQ(res.result_int(), 503);
  EXPECT_EQ(res[http::field::retry_after], "1");
  EXPECT_EQ(Client().Send(http::verb::get, "/readyz").result_int(), 503);
  store_->failing = false;
  // Ready again once a commit succeeds: the committer's idle trial commit, within seconds.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (Client().Send(http::verb::get, "/readyz").result_int() != 200 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(Client().Send(http::verb::get, "/readyz").result_int(), 200);
  EXPECT_EQ(Post(body).result_int(), 200);  // the registry's retry
  EXPECT_EQ(GetJson("/api/v1/repositories/team/app").as_object()["numpulls"], 1);
}

TEST_F(IngestApiTest, FullQueueIs503) {
  Stop();
  Start(0);
  auto res = Post(Example("manifest-pull-get.json"));
  EXPECT_EQ(res.result_int(), 503);
  EXPECT_EQ(res[http::field::retry_after], "1");
}

TEST_F(IngestApiTest, ConcurrentRequestsAreAllCounted) {
  constexpr int kThreads = 8, kPerThread = 25;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      TlsClient client = Client();  // keep-alive: one connection per thread
      for (int i = 0; i < kPerThread; ++i) {
        const std::string body = R"({"events":[{"id":"e-)" + std::to_string(t) + "-" +
                                 std::to_string(i) +
                                 R"(","timestamp":"2026-11-27T02:24:34Z","action":"pull",
            "target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd",
            "repository":"load/test","tag":"t"},"request":{"method":"GET"},"actor":{}}]})";
        auto res = client.Send(http::verb::post, "/events", body,
                               {{"Authorization", "Bearer token-a"}, {"Content-Type", kEventsV1}});
        if (res.result_int() == 200) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  EXPECT_EQ(GetJson("/api/v1/repositories/load/test").as_object()["numpulls"],
            kThreads * kPerThread);
}

TEST_F(IngestApiTest, ProbesNeedNoCredentials) {
  EXPECT_EQ(Client().Send(http::verb::get, "/healthz").result_int(), 200);
  EXPECT_EQ(Client().Send(http::verb::get, "/readyz").result_int(), 200);
  auto metrics = Client().Send(http::verb::get, "/metrics");
  EXPECT_EQ(metrics.result_int(), 200);
  EXPECT_NE(metrics.body().find("# TYPE drec_commit_duration_seconds histogram"),
            std::string::npos);
}

TEST_F(IngestApiTest, ApiErrorsAreJsonWithAMessage) {
  auto unknown = GetJson("/api/v1/repositories/nobody/here", 404).as_object();
  EXPECT_NE(unknown["error"].as_string().find("nobody/here"), std::string::npos);
  auto bad_sort = GetJson("/api/v1/repositories?sort=stars", 400).as_object();
  EXPECT_NE(bad_sort["error"].as_string().find("stars"), std::string::npos);
  auto bad_limit = GetJson("/api/v1/repositories?limit=0", 400).as_object();
  EXPECT_NE(bad_limit["error"].as_string().find("limit"), std::string::npos);
}

TEST_F(IngestApiTest, HeadAnswersHeadersWithoutABodyAndKeepsTheConnectionUsable) {
  TlsClient client = Client();
  const auto get = client.Send(http::verb::get, "/metrics");
  const auto head_response = client.Send(http::verb::head, "/healthz");
  EXPECT_EQ(head_response.result_int(), 200);
  EXPECT_EQ(head_response[http::field::content_length], "3");
  EXPECT_EQ(head_response.body(), "");
  // The next answer on the same connection is intact.
  const auto after = client.Send(http::verb::get, "/healthz");
  EXPECT_EQ(after.body(), "ok\n");
  EXPECT_FALSE(get.body().empty());
}

TEST_F(IngestApiTest, IdleConnectionsAreClosed) {
  TlsClient client = Client();
  EXPECT_EQ(client.Send(http::verb::get, "/healthz").result_int(), 200);
  const auto ec = client.WaitForClose();  // the server's 300 ms idle timeout, not ours
  EXPECT_TRUE(ec) << "connection still open";
}

// The server's end of a loopback connection from `client_port` to `server_port`: the test
// shares the process with the server, so its sockets are among our descriptors.
int ServerSocketOf(std::uint16_t server_port, std::uint16_t client_port) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    const int fd = std::stoi(entry.path().filename().string());
    sockaddr_in local{}, peer{};
    socklen_t local_len = sizeof local, peer_len = sizeof peer;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0 ||
        ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0 ||
        local.sin_family != AF_INET) {
      continue;
    }
    if (ntohs(local.sin_port) == server_port && ntohs(peer.sin_port) == client_port) return fd;
  }
  return -1;
}

TEST_F(IngestApiTest, AcceptedConnectionsSendRepliesWithoutWaiting) {
  TlsClient client = Client();
  EXPECT_EQ(client.Send(http::verb::get, "/healthz").result_int(), 200);
  const int fd = ServerSocketOf(server_->port(), client.local_port());
  ASSERT_GE(fd, 0) << "the server's socket of this connection was not found";
  int nodelay = 0;
  socklen_t len = sizeof nodelay;
  ASSERT_EQ(::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len), 0);
  EXPECT_NE(nodelay, 0) << "Nagle's algorithm holds the first reply until the client's ACK";
}

TEST_F(IngestApiTest, OldTlsIsRefused) {
  EXPECT_ANY_THROW(TlsClient(server_->port(), files_.cert, TLS1_1_VERSION));
  EXPECT_NO_THROW(TlsClient(server_->port(), files_.cert, TLS1_2_VERSION));
}

}  // namespace
}  // namespace drec
