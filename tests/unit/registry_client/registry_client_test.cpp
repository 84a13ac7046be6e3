// The registry client against a fake registry on loopback: what a real registry will not do
// on demand (hostile Link headers, oversized bodies, wrong digests, 5xx, token answers).
// tests/integration/registry_client/ runs it against real registries.
#include "registry_client/registry_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace drec {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// A one-connection-at-a-time HTTP server whose answers a test function decides.
class FakeRegistry {
 public:
  explicit FakeRegistry(std::function<Response(const Request&)> handler)
      : handler_(std::move(handler)),
        acceptor_(ioc_, net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)),
        thread_([this] { Serve(); }) {}

  ~FakeRegistry() {
    stopping_ = true;
    beast::error_code ec;
    net::ip::tcp::socket poke(ioc_);
    poke.connect(acceptor_.local_endpoint(), ec);  // wakes the blocking accept
    thread_.join();
  }

  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }

  std::vector<std::string> targets() {
    std::lock_guard lock(mutex_);
    return targets_;
  }

 private:
  void Serve() {
    while (!stopping_) {
      beast::error_code ec;
      net::ip::tcp::socket socket(ioc_);
      acceptor_.accept(socket, ec);
      if (ec || stopping_) continue;
      beast::flat_buffer buffer;
      Request request;
      http::read(socket, buffer, request, ec);
      if (ec) continue;
      {
        std::lock_guard lock(mutex_);
        targets_.emplace_back(request.target());
      }
      Response response = handler_(request);
      response.version(11);
      if (request.method() != http::verb::head) response.prepare_payload();
      http::write(socket, response, ec);
      socket.shutdown(net::ip::tcp::socket::shutdown_both, ec);
    }
  }

  std::function<Response(const Request&)> handler_;
  net::io_context ioc_;
  net::ip::tcp::acceptor acceptor_;
  std::mutex mutex_;
  std::vector<std::string> targets_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;  // last: starts once the rest exists
};

Response Json(std::string body, http::status status = http::status::ok) {
  Response r{status, 11};
  r.set(http::field::content_type, "application/json");
  r.body() = std::move(body);
  return r;
}

std::unique_ptr<RegistryClient> Client(const std::string& url, std::size_t page_size = 0) {
  RegistryEndpoint endpoint;
  endpoint.url = url;
  endpoint.username = "ci";
  endpoint.password = "pw";
  endpoint.tags_page_size = page_size;
  auto client = RegistryClient::Make(endpoint);
  EXPECT_TRUE(client.ok()) << client.status().message();
  return std::move(client).value();
}

TEST(RegistryClientTest, ListTagsFollowsRelativeAndAbsoluteNextLinks) {
  std::string self;
  FakeRegistry fake([&self](const Request& req) {
    const std::string target(req.target());
    if (target == "/v2/team/app/tags/list?n=2") {
      Response r = Json(R"({"name":"team/app","tags":["c","a"]})");
      r.set(http::field::link, R"(</v2/team/app/tags/list?last=a&n=2>; rel="next")");
      return r;
    }
    if (target == "/v2/team/app/tags/list?last=a&n=2") {
      Response r = Json(R"({"name":"team/app","tags":["b"]})");
      r.set(http::field::link, "<" + self + R"(/v2/team/app/tags/list?last=b&n=2>; rel="next")");
      return r;
    }
    if (target == "/v2/team/app/tags/list?last=b&n=2") {
      return Json(R"({"name":"team/app","tags":["d"]})");
    }
    return Json("{}", http::status::not_found);
  });
  self = fake.url();
  auto tags = Client(fake.url(), 2)->ListTags("team/app");
  ASSERT_TRUE(tags.ok()) << tags.status().message();
  EXPECT_THAT(*tags, ElementsAre("c", "a", "b", "d"));
  EXPECT_EQ(fake.targets().size(), 3u);
}

TEST(RegistryClientTest, ListTagsRefusesLinksThatLoopOrLeaveTheRegistry) {
  FakeRegistry loop([](const Request&) {  // every page links to the second one
    Response r = Json(R"({"tags":["a"]})");
    r.set(http::field::link, R"(</v2/r/tags/list?last=a>; rel="next")");
    return r;
  });
  auto looped = Client(loop.url())->ListTags("r");
  EXPECT_EQ(looped.status().code(), Status::Code::kInternal);
  EXPECT_THAT(looped.status().message(), HasSubstr("already read"));
  EXPECT_EQ(loop.targets().size(), 2u);

  FakeRegistry away([](const Request&) {
    Response r = Json(R"({"tags":["a"]})");
    r.set(http::field::link, R"(<http://198.51.100.7:5000/v2/r/tags/list?last=a>; rel="next")");
    return r;
  });
  auto left = Client(away.url())->ListTags("r");
  EXPECT_EQ(left.status().code(), Status::Code::kInternal);
  EXPECT_THAT(left.status().message(), HasSubstr("another server"));

  FakeRegistry outside([](const Request&) {
    Response r = Json(R"({"tags":["a"]})");
    r.set(http::field::link, R"(</admin?x=1>; rel="next")");
    return r;
  });
  EXPECT_THAT(Client(outside.url())->ListTags("r").status().message(), HasSubstr("outside /v2/"));
}

TEST(RegistryClientTest, ListTagsOfAnUnknownOrEmptiedRepositoryIsEmpty) {
  FakeRegistry fake([](const Request& req) {
    if (req.target() == "/v2/gone/tags/list") return Json(R"({"name":"gone","tags":null})");
    return Json(R"({"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known"}]})",
                http::status::not_found);
  });
  auto unknown = Client(fake.url())->ListTags("never");
  ASSERT_TRUE(unknown.ok()) << unknown.status().message();
  EXPECT_TRUE(unknown->empty());
  auto emptied = Client(fake.url())->ListTags("gone");
  ASSERT_TRUE(emptied.ok()) << emptied.status().message();
  EXPECT_TRUE(emptied->empty());
}

TEST(RegistryClientTest, BearerTokensAreFetchedOncePerScopeAndSent) {
  std::string self;
  std::atomic<int> token_requests{0};
  FakeRegistry fake([&](const Request& req) {
    const std::string target(req.target());
    if (target.starts_with("/token?")) {
      ++token_requests;
      EXPECT_EQ(target, "/token?service=fake&scope=repository:r:pull");
      EXPECT_EQ(req[http::field::authorization], "Basic Y2k6cHc=");  // ci:pw
      return Json(R"({"access_token":"tok-1","expires_in":300})");
    }
    if (req[http::field::authorization] != "Bearer tok-1") {
      Response r = Json(R"({"errors":[{"code":"UNAUTHORIZED"}]})", http::status::unauthorized);
      r.set(http::field::www_authenticate,
            "Bearer realm=\"" + self + "/token\",service=\"fake\",scope=\"repository:r:pull\"");
      return r;
    }
    return Json(R"({"tags":["t"]})");
  });
  self = fake.url();
  auto client = Client(fake.url());
  for (int i = 0; i < 3; ++i) {
    auto tags = client->ListTags("r");
    ASSERT_TRUE(tags.ok()) << tags.status().message();
    EXPECT_THAT(*tags, ElementsAre("t"));
  }
  EXPECT_EQ(token_requests.load(), 1);
  // The first call met the challenge; the later ones sent the cached token straight away.
  EXPECT_EQ(fake.targets().size(), 5u);
}

TEST(RegistryClientTest, ATokenTheRegistryRefusesIsPermissionDenied) {
  std::string self;
  FakeRegistry fake([&](const Request& req) {
    if (std::string(req.target()).starts_with("/token")) return Json(R"({"token":"useless"})");
    Response r = Json("{}", http::status::unauthorized);
    r.set(http::field::www_authenticate, "Bearer realm=\"" + self + "/token\"");
    return r;
  });
  self = fake.url();
  Status s = Client(fake.url())->DeleteManifest("r", "sha256:" + std::string(64, 'a'));
  EXPECT_EQ(s.code(), Status::Code::kPermissionDenied) << s.message();
  EXPECT_THAT(s.message(), HasSubstr("user \"ci\""));
  EXPECT_EQ(fake.targets().size(), 3u);  // the request, the token, one retry: no loop
}

TEST(RegistryClientTest, ServerErrorsAndThrottlingAreUnavailable) {
  FakeRegistry fake([](const Request& req) {
    return Json("{}", req.target().find("busy") != beast::string_view::npos
                          ? http::status::too_many_requests
                          : http::status::bad_gateway);
  });
  auto busy = Client(fake.url())->ListTags("busy");
  EXPECT_EQ(busy.status().code(), Status::Code::kUnavailable);
  EXPECT_THAT(busy.status().message(), HasSubstr("HTTP 429"));
  auto down = Client(fake.url())->HeadManifest("r", "latest");
  EXPECT_EQ(down.status().code(), Status::Code::kUnavailable);
  EXPECT_THAT(down.status().message(),
              HasSubstr("registry " + fake.url() + ": HEAD /v2/r/manifests/latest: HTTP 502"));
}

TEST(RegistryClientTest, AManifestOverTheBoundOrNotMatchingItsDigestIsRefused) {
  FakeRegistry fake([](const Request& req) {
    Response r = Json(req.target().find("huge") != beast::string_view::npos
                          ? std::string(std::size_t{5} * 1024 * 1024, ' ')
                          : R"({"schemaVersion":2})");
    r.set(http::field::content_type, "application/vnd.oci.image.manifest.v1+json");
    r.set("Docker-Content-Digest", "sha256:" + std::string(64, '0'));
    return r;
  });
  auto huge = Client(fake.url())->GetManifest("huge", "latest");
  EXPECT_EQ(huge.status().code(), Status::Code::kInternal);
  EXPECT_THAT(huge.status().message(), HasSubstr("exceeds"));
  auto lying = Client(fake.url())->GetManifest("r", "latest");
  EXPECT_EQ(lying.status().code(), Status::Code::kInternal);
  EXPECT_THAT(lying.status().message(), HasSubstr("body's digest"));
}

TEST(RegistryClientTest, BadNamesAreRefusedBeforeAnyRequest) {
  FakeRegistry fake([](const Request&) { return Json("{}"); });
  auto client = Client(fake.url());
  EXPECT_EQ(client->ListTags("../admin").status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(client->HeadManifest("r", "a/b").status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(client->DeleteManifest("r", "latest").code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(fake.targets().empty());
}

TEST(RegistryClientTest, MakeNamesTheBadField) {
  RegistryEndpoint endpoint;
  endpoint.url = "ftp://127.0.0.1:5000";
  auto scheme = RegistryClient::Make(endpoint);
  EXPECT_EQ(scheme.status().code(), Status::Code::kInvalidArgument);
  EXPECT_THAT(scheme.status().message(), HasSubstr("registry url"));
  EXPECT_THAT(scheme.status().message(), HasSubstr("scheme"));

  endpoint.url = "https://127.0.0.1:5000/v2/";
  EXPECT_THAT(RegistryClient::Make(endpoint).status().message(), HasSubstr("a path"));

  endpoint.url = "https://127.0.0.1:5000/";
  endpoint.ca_file = "/nonexistent/ca.pem";
  auto ca = RegistryClient::Make(endpoint);
  EXPECT_EQ(ca.status().code(), Status::Code::kInvalidArgument);
  EXPECT_THAT(ca.status().message(), HasSubstr("ca_file \"/nonexistent/ca.pem\""));

  endpoint.ca_file.clear();
  EXPECT_TRUE(RegistryClient::Make(endpoint).ok());
}

}  // namespace
}  // namespace drec
