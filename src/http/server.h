// The HTTP(S) server: one io_context run by a thread per core, one session
// object per connection (as in the Boost.Beast examples), explicit async flow,
// and a timeout on every wait so no client can hold resources for long.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "http/handler.h"
#include "metrics/metrics.h"
#include "util/status.h"

namespace drec {

struct ServerOptions {
  boost::asio::ip::tcp::endpoint endpoint;
  std::int64_t max_body_bytes = std::int64_t{4} * 1024 * 1024;
  std::uint32_t max_header_bytes = 16 * 1024;
  std::chrono::milliseconds read_timeout{30'000};  // header and body of one request
  std::chrono::milliseconds idle_timeout{60'000};  // between requests of a keep-alive connection
  int threads = 1;
  std::shared_ptr<boost::asio::ssl::context> tls;  // null: plain HTTP
};

class SessionRegistry;

class HttpServer {
 public:
  HttpServer(ServerOptions options, HttpHandler& handler, Metrics& metrics);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens; fails with a message naming the address when the port is taken.
  Status Start();
  // The bound port (useful when the configured port was 0).
  std::uint16_t port() const { return port_; }
  // Stops accepting, lets requests in progress finish (up to `grace`), closes idle connections.
  void Stop(std::chrono::milliseconds grace);
  // Connections accepted from now on handshake with `tls` (a rotated certificate); open ones
  // keep the context they began with, so a reload drops no connection. Ignored on plain HTTP,
  // which a reload cannot turn into TLS.
  void ReplaceTls(std::shared_ptr<boost::asio::ssl::context> tls);

 private:
  void Accept();

  ServerOptions options_;
  HttpHandler& handler_;
  Metrics& metrics_;
  boost::asio::io_context ioc_;
  // Keeps the I/O threads running while a request waits for its commit with no socket
  // operation pending: once the acceptor closes on Stop, that may be the only work left, and
  // its reply must still be written.
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<SessionRegistry> sessions_;
  std::atomic<std::shared_ptr<boost::asio::ssl::context>> tls_;
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
};

}  // namespace drec
