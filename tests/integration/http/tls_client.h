// A small synchronous HTTPS client for tests: real TLS, verifying drec's
// certificate against the test's trust anchor.
#pragma once

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <map>
#include <string>

namespace drec::testing {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

class TlsClient {
 public:
  using Response = http::response<http::string_body>;

  // A client certificate, for servers that ask for one (mTLS).
  struct Identity {
    std::string cert;
    std::string key;
  };

  TlsClient(std::uint16_t port, const std::string& trust_anchor_pem, int max_tls_version = 0,
            const Identity* identity = nullptr)
      : ctx_(net::ssl::context::tls_client), stream_(MakeStream(ioc_, ctx_, identity)) {
    ctx_.load_verify_file(trust_anchor_pem);
    ctx_.set_verify_mode(net::ssl::verify_peer);
    if (max_tls_version != 0) {
      // Level 0 lets this client offer old versions, so a refusal can only come from the server.
      SSL_set_security_level(stream_.native_handle(), 0);
      SSL_set_min_proto_version(stream_.native_handle(), TLS1_VERSION);
      SSL_set_max_proto_version(stream_.native_handle(), max_tls_version);
    }
    SSL_set_tlsext_host_name(stream_.native_handle(), "localhost");
    stream_.set_verify_callback(net::ssl::host_name_verification("localhost"));
    beast::get_lowest_layer(stream_).connect(
        net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(10));
    stream_.handshake(net::ssl::stream_base::client);
  }

  Response Send(http::verb verb, const std::string& target, const std::string& body = "",
                const std::map<std::string, std::string>& headers = {}) {
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, "localhost");
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    if (verb == http::verb::post || !body.empty()) req.prepare_payload();
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(10));
    http::write(stream_, req);
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    parser.skip(verb == http::verb::head);  // a HEAD answer announces a body it does not send
    http::read(stream_, buffer_, parser);
    return parser.release();
  }

  // Sends raw bytes and reads one response (for malformed or oversized requests).
  Response SendRaw(const std::string& bytes) {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(10));
    net::write(stream_, net::buffer(bytes));
    Response res;
    http::read(stream_, buffer_, res);
    return res;
  }

  // The client's end of the connection, to find the server's end of it.
  std::uint16_t local_port() const {
    return beast::get_lowest_layer(stream_).socket().local_endpoint().port();
  }

  // Reads until the server closes; returns the error that ended the read.
  beast::error_code WaitForClose() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(10));
    char byte;
    beast::error_code ec;
    stream_.read_some(net::buffer(&byte, 1), ec);
    return ec;
  }

 private:
  // The identity goes into the context before the stream's SSL object copies it.
  static beast::ssl_stream<beast::tcp_stream> MakeStream(net::io_context& ioc,
                                                         net::ssl::context& ctx,
                                                         const Identity* identity) {
    if (identity != nullptr) {
      ctx.use_certificate_chain_file(identity->cert);
      ctx.use_private_key_file(identity->key, net::ssl::context::pem);
    }
    return beast::ssl_stream<beast::tcp_stream>(ioc, ctx);
  }

  net::io_context ioc_;
  net::ssl::context ctx_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
};

}  // namespace drec::testing
