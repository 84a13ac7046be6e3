// The HTTP(S) server: an io_context per thread and a thread per core, one session
// object per connection (as in the Boost.Beast examples), explicit async flow,
// and a timeout on every wait so no client can hold resources for long.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "http/byte_budget.h"
#include "http/handler.h"
#include "metrics/metrics.h"
#include "util/status.h"

namespace drec {

struct ServerOptions {
  boost::asio::ip::tcp::endpoint endpoint;
  std::int64_t max_body_bytes = std::int64_t{4} * 1024 * 1024;
  std::uint32_t max_header_bytes = 16 * 1024;
  // From a request's first byte: its header and body must have arrived by then (one deadline,
  // not extended by each byte, so a header dribbled a byte at a time is cut).
  std::chrono::milliseconds read_timeout{30'000};
  // Until a request's first byte (a new connection's, or between keep-alive requests).
  std::chrono::milliseconds idle_timeout{60'000};
  // Connections open at once; more are accepted and closed at once.
  std::int64_t max_connections = 1024;
  // Request body bytes held at once (ByteBudget); a request beyond them is answered 503.
  std::int64_t max_buffered_bytes = std::int64_t{64} * 1024 * 1024;
  // After an early error reply (its body unread), what the client still sends is read and
  // dropped for this long or this many bytes before the close, so the client reads the reply
  // instead of a connection reset.
  std::chrono::milliseconds linger_timeout{2'000};
  std::int64_t linger_bytes = std::int64_t{16} * 1024 * 1024;
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
  // A failed accept: wait (50 ms doubling to 1 s) so that a process out of descriptors does not
  // spin, with one log line per 10 s.
  void OnAcceptError(const boost::system::error_code& ec);
  // Returns freed heap to the system once a burst of connections has ended.
  void TrimLater();

  ServerOptions options_;
  HttpHandler& handler_;
  Metrics& metrics_;
  // Before ioc_: sessions still queued in it when it is destroyed give their bytes back.
  ByteBudget budget_;
  // One io_context per I/O thread, run by that thread alone, and each connection on one of
  // them: a request and the reply its commit posts back wake the connection's own thread only.
  // (With one context for all threads, the threads handed each request back and forth: twice
  // the wake-ups a request.) The acceptor and the trim timer live on the first.
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::size_t next_context_ = 0;  // on the acceptor's strand
  // Keep the I/O threads running while a request waits for its commit with no socket
  // operation pending: once the acceptor closes on Stop, that may be the only work left, and
  // its reply must still be written.
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer accept_timer_;  // on the acceptor's strand, as what follows
  std::chrono::milliseconds accept_backoff_{0};
  std::chrono::steady_clock::time_point last_accept_log_{};
  std::int64_t accept_logs_suppressed_ = 0;
  boost::asio::steady_timer trim_timer_;
  std::int64_t peak_connections_ = 0;  // since the last trim
  std::shared_ptr<SessionRegistry> sessions_;
  std::atomic<std::shared_ptr<boost::asio::ssl::context>> tls_;
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
};

}  // namespace drec
