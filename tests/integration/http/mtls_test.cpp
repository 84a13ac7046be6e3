// Client-certificate verification (server.ssl.client_ca): over real TLS, a
// client without a certificate, or with one the CA did not sign, never reaches
// a handler.
#include <gtest/gtest.h>

#include <filesystem>

#include "http/server.h"
#include "http/tls_context.h"
#include "tls_client.h"

namespace drec {
namespace {

using testing::TlsClient;

class HealthOnly : public HttpHandler {
 public:
  void Handle(HttpRequest, Respond respond) override {
    HttpResponse res{boost::beast::http::status::ok, 11};
    res.body() = "ok";
    respond(std::move(res));
  }
};

class MutualTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("drec-mtls-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    server_files_ = {(dir_ / "server.pem").string(), (dir_ / "server.key").string()};
    client_files_ = {(dir_ / "client.pem").string(), (dir_ / "client.key").string()};
    stranger_files_ = {(dir_ / "stranger.pem").string(), (dir_ / "stranger.key").string()};
    for (const auto* files : {&server_files_, &client_files_, &stranger_files_}) {
      ASSERT_TRUE(GenerateSelfSignedCertificate(*files, 1).ok());
    }
    Settings settings;
    settings.tls_client_ca = client_files_.cert;  // the self-signed client is its own CA
    auto tls = MakeTlsContext(settings, server_files_);
    ASSERT_TRUE(tls.ok()) << tls.status().message();
    ServerOptions options;
    options.endpoint = {boost::asio::ip::make_address("127.0.0.1"), 0};
    options.tls = std::move(tls).value();
    server_ = std::make_unique<HttpServer>(options, handler_, metrics_);
    ASSERT_TRUE(server_->Start().ok());
  }

  void TearDown() override {
    server_->Stop(std::chrono::seconds(5));
    std::filesystem::remove_all(dir_);
  }

  // True when a request with this identity gets an answer.
  bool Answered(const TlsClient::Identity* identity) {
    try {
      TlsClient client(server_->port(), server_files_.cert, 0, identity);
      return client.Send(boost::beast::http::verb::get, "/healthz").result_int() == 200;
    } catch (const std::exception&) {
      return false;
    }
  }

  std::filesystem::path dir_;
  CertificateFiles server_files_, client_files_, stranger_files_;
  HealthOnly handler_;
  Metrics metrics_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(MutualTlsTest, OnlyClientsWithACertificateFromTheCaGetIn) {
  const TlsClient::Identity client{client_files_.cert, client_files_.key};
  const TlsClient::Identity stranger{stranger_files_.cert, stranger_files_.key};
  EXPECT_TRUE(Answered(&client));
  EXPECT_FALSE(Answered(nullptr));
  EXPECT_FALSE(Answered(&stranger));
}

}  // namespace
}  // namespace drec
