// Each connection stays on one I/O thread: its requests run there and the replies that other
// threads deliver (a commit's, on the committer thread) are written there, so a request wakes one
// thread, and connections spread over the threads.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "http/server.h"
#include "http/tls_context.h"
#include "tls_client.h"

namespace drec {
namespace {

using testing::TlsClient;

// Notes the thread each request runs on, by the client's name, and answers from a thread of its
// own, as ingest answers from the committer thread.
class ThreadRecorder : public HttpHandler {
 public:
  void Handle(HttpRequest request, Respond respond) override {
    {
      std::lock_guard lock(mu_);
      threads_[std::string(request["X-Client"])].insert(std::this_thread::get_id());
    }
    std::lock_guard lock(mu_);
    repliers_.emplace_back([respond = std::move(respond)] {
      HttpResponse res{boost::beast::http::status::ok, 11};
      res.body() = "ok";
      respond(std::move(res));
    });
  }

  ~ThreadRecorder() override {
    for (std::thread& replier : repliers_) replier.join();
  }

  std::map<std::string, std::set<std::thread::id>> threads() {
    std::lock_guard lock(mu_);
    return threads_;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::set<std::thread::id>> threads_;
  std::vector<std::thread> repliers_;
};

TEST(ServerThreadsTest, AConnectionStaysOnOneThreadAndConnectionsSpreadOverThem) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("drec-threads-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  const CertificateFiles files{(dir / "server.pem").string(), (dir / "server.key").string()};
  ASSERT_TRUE(GenerateSelfSignedCertificate(files, 1).ok());
  auto tls = MakeTlsContext(Settings{}, files);
  ASSERT_TRUE(tls.ok()) << tls.status().message();
  ThreadRecorder handler;
  Metrics metrics;
  ServerOptions options;
  options.endpoint = {boost::asio::ip::make_address("127.0.0.1"), 0};
  options.tls = std::move(tls).value();
  options.threads = 2;
  HttpServer server(options, handler, metrics);
  ASSERT_TRUE(server.Start().ok());
  {
    TlsClient first(server.port(), files.cert);
    TlsClient second(server.port(), files.cert);
    for (int i = 0; i < 20; ++i) {
      for (const auto& [client, name] :
           {std::pair{&first, "first"}, std::pair{&second, "second"}}) {
        const auto response =
            client->Send(boost::beast::http::verb::post, "/", "{}", {{"X-Client", name}});
        EXPECT_EQ(response.result_int(), 200);
      }
    }
  }
  server.Stop(std::chrono::seconds(5));
  const auto threads = handler.threads();
  ASSERT_EQ(threads.size(), 2U);
  ASSERT_EQ(threads.at("first").size(), 1U) << "the first connection's requests changed threads";
  ASSERT_EQ(threads.at("second").size(), 1U) << "the second connection's requests changed threads";
  EXPECT_NE(*threads.at("first").begin(), *threads.at("second").begin());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace drec
