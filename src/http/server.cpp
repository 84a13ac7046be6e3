#include "http/server.h"

#include <malloc.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

namespace drec {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

class SessionBase {
 public:
  virtual ~SessionBase() = default;
  // Closes the connection if it is waiting for a request; otherwise the
  // request in progress is answered first, without keep-alive.
  virtual void CloseIfIdle() = 0;
};

// The live sessions, so that Stop can close idle keep-alive connections and
// wait for the requests in progress.
class SessionRegistry {
 public:
  void Add(SessionBase* s, std::weak_ptr<SessionBase> w) {
    std::lock_guard lock(mu_);
    sessions_.emplace(s, std::move(w));
    size_.store(static_cast<std::int64_t>(sessions_.size()));
    peak_ = std::max(peak_, static_cast<std::int64_t>(sessions_.size()));
  }
  void Remove(SessionBase* s) {
    std::lock_guard lock(mu_);
    sessions_.erase(s);
    size_.store(static_cast<std::int64_t>(sessions_.size()));
    if (sessions_.empty()) empty_.notify_all();
  }
  // Sessions alive now (open, or closing).
  std::int64_t size() const { return size_.load(); }
  // The most sessions alive at once since the last call.
  std::int64_t TakePeak() {
    std::lock_guard lock(mu_);
    return std::exchange(peak_, static_cast<std::int64_t>(sessions_.size()));
  }
  bool stopping() const { return stopping_.load(); }
  void BeginStop() {
    stopping_ = true;
    std::vector<std::shared_ptr<SessionBase>> live;
    {
      std::lock_guard lock(mu_);
      for (auto& [_, weak] : sessions_) {
        if (auto s = weak.lock()) live.push_back(std::move(s));
      }
    }
    for (auto& s : live) s->CloseIfIdle();
  }
  // True when every session ended within `grace`.
  bool WaitEmpty(std::chrono::milliseconds grace) {
    std::unique_lock lock(mu_);
    return empty_.wait_for(lock, grace, [this] { return sessions_.empty(); });
  }

 private:
  std::mutex mu_;
  std::condition_variable empty_;
  std::unordered_map<SessionBase*, std::weak_ptr<SessionBase>> sessions_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::int64_t> size_{0};
  std::int64_t peak_ = 0;
};

namespace {

HttpResponse ErrorResponse(http::status status, std::string_view message) {
  HttpResponse res{status, 11};
  res.set(http::field::content_type, "application/json");
  res.body() = std::string(R"({"error":")") + std::string(message) + "\"}";
  res.keep_alive(false);
  return res;
}

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// curl and other clients send `Expect: 100-continue` before a large body and wait for it.
bool ExpectsContinue(const HttpRequestHeader& header) {
  return header.version() >= 11 && beast::iequals(header[http::field::expect], "100-continue");
}

// One connection. With TLS, the TLS stream (with its buffers, tens of KB) is made only once the
// client's first bytes arrived, so an idle connection costs little more than its socket.
template <bool kTls>
class Session : public SessionBase, public std::enable_shared_from_this<Session<kTls>> {
 public:
  // `tls`: the context the TLS stream is made with (null for plain HTTP), held for the
  // connection's life because a reload may replace the server's.
  Session(const ServerOptions& options, HttpHandler& handler, Metrics& metrics,
          std::shared_ptr<SessionRegistry> registry, ByteBudget& budget,
          std::shared_ptr<boost::asio::ssl::context> tls, tcp::socket socket)
      : options_(options),
        handler_(handler),
        metrics_(metrics),
        registry_(std::move(registry)),
        budget_(budget),
        tls_(std::move(tls)),
        tcp_(std::move(socket)) {}

  ~Session() override {
    ReleaseBody();
    metrics_.ConnectionsOpen(-1);
    registry_->Remove(this);
  }

  void Run() {
    registry_->Add(this, this->weak_from_this());
    metrics_.ConnectionsOpen(1);
    net::dispatch(tcp_.get_executor(), [self = this->shared_from_this()] { self->AwaitRequest(); });
  }

  void CloseIfIdle() override {
    net::post(tcp_.get_executor(), [self = this->shared_from_this()] {
      if (self->idle_) self->tcp_.cancel();
    });
  }

 private:
  using TlsStream = net::ssl::stream<beast::tcp_stream&>;

  auto& stream() {
    if constexpr (kTls) {
      return *tls_stream_;
    } else {
      return tcp_;
    }
  }

  // Waits for the first byte of the next request (of a TLS connection: of its handshake) under
  // the idle timeout. One byte: an idle connection holds no read buffer.
  void AwaitRequest() {
    if (registry_->stopping()) return Close();
    if (buffer_.size() > 0) return StartRequest();  // pipelined
    idle_ = true;
    tcp_.expires_after(options_.idle_timeout);
    auto arrived = [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
      self->idle_ = false;
      if (ec) return self->Close();
      self->buffer_.commit(n);
      if constexpr (kTls) {
        if (!self->tls_stream_) return self->Handshake();
      }
      self->StartRequest();
    };
    if constexpr (kTls) {
      if (!tls_stream_) return tcp_.async_read_some(buffer_.prepare(1), std::move(arrived));
    }
    stream().async_read_some(buffer_.prepare(1), std::move(arrived));
  }

  void Handshake() {
    tls_stream_.emplace(tcp_, *tls_);
    tcp_.expires_after(options_.read_timeout);
    tls_stream_->async_handshake(
        net::ssl::stream_base::server, buffer_.data(),
        [self = this->shared_from_this()](beast::error_code ec, std::size_t used) {
          // Failed handshakes are the client's problem.
          if (ec) return self->tcp_.close();
          self->buffer_.consume(used);
          self->buffer_.shrink_to_fit();
          self->AwaitRequest();
        });
  }

  void StartRequest() {
    parser_.emplace();
    parser_->header_limit(options_.max_header_bytes);
    parser_->body_limit(static_cast<std::uint64_t>(options_.max_body_bytes));
    version_ = 11;
    keep_alive_ = false;
    head_ = false;
    // One deadline for the whole request from its first byte, header and body.
    tcp_.expires_after(options_.read_timeout);
    http::async_read_header(
        stream(), buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    const HttpRequestHeader& header = parser_->get().base();
    keep_alive_ = parser_->get().keep_alive();
    version_ = header.version();
    head_ = header.method() == http::verb::head;
    if (std::optional<HttpResponse> refusal = handler_.Screen(header)) {
      return WriteEarly(std::move(*refusal));
    }
    // The parser refused a Content-Length above the body limit already.
    std::int64_t body_bytes = 0;
    if (const auto length = parser_->content_length()) {
      body_bytes = static_cast<std::int64_t>(*length);
    } else if (parser_->chunked()) {
      body_bytes = options_.max_body_bytes;
    }
    if (!budget_.TryReserve(body_bytes, reservation_)) {
      metrics_.BufferedBytesRefused();
      HttpResponse busy = ErrorResponse(http::status::service_unavailable,
                                        "too many request bytes in flight; retry later");
      busy.set(http::field::retry_after, "1");
      return WriteEarly(std::move(busy));
    }
    metrics_.BufferedBytes(reservation_.bytes());
    if (ExpectsContinue(header) && !parser_->is_done()) {
      net::async_write(stream(), net::buffer(kContinue),
                       [self = this->shared_from_this()](beast::error_code ec, size_t) {
                         if (ec) return self->Close();
                         self->ReadBody();
                       });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    http::async_read(stream(), buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->OnReadError(ec);
                       self->Dispatch();
                     });
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      return WriteEarly(
          ErrorResponse(http::status::payload_too_large, "body exceeds the size limit"));
    }
    if (ec == http::error::header_limit) {
      return WriteEarly(ErrorResponse(http::status::request_header_fields_too_large,
                                      "headers exceed the size limit"));
    }
    if (ec.category() == beast::error_code(http::error::bad_target).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message) {
      return WriteEarly(ErrorResponse(http::status::bad_request, "malformed HTTP request"));
    }
    Close();  // timeouts, resets, end of stream: nobody to answer
  }

  void Dispatch() {
    HttpRequest request = parser_->release();
    parser_.reset();
    auto self = this->shared_from_this();
    handler_.Handle(std::move(request), [self](HttpResponse response) {
      net::post(self->tcp_.get_executor(), [self, response = std::move(response)]() mutable {
        self->Write(std::move(response), false);
      });
    });
  }

  // A reply before the request's body was read: the connection closes after it, lingering.
  void WriteEarly(HttpResponse response) { Write(std::move(response), true); }

  void Write(HttpResponse response, bool early) {
    response.version(version_);
    if (early || !keep_alive_ || registry_->stopping()) response.keep_alive(false);
    response.prepare_payload();
    metrics_.HttpResponse(response.result_int());
    response_ = std::make_shared<HttpResponse>(std::move(response));
    serializer_.emplace(*response_);
    tcp_.expires_after(options_.read_timeout);
    auto written = [self = this->shared_from_this(), early](beast::error_code ec, size_t) {
      const bool keep = self->response_->keep_alive();
      // Nothing of the request outlives its response.
      self->serializer_.reset();
      self->response_.reset();
      self->parser_.reset();
      self->ReleaseBody();
      if (ec) return self->Close();
      if (early) return self->Linger();
      if (!keep) return self->Close();
      if (self->buffer_.size() == 0) self->buffer_.shrink_to_fit();
      self->AwaitRequest();
    };
    // A HEAD answer has the GET answer's headers, Content-Length included, and no body.
    if (head_) {
      http::async_write_header(stream(), *serializer_, std::move(written));
    } else {
      http::async_write(stream(), *serializer_, std::move(written));
    }
  }

  void ReleaseBody() {
    if (reservation_.bytes() > 0) metrics_.BufferedBytes(-reservation_.bytes());
    reservation_.Reset();
  }

  // Lingering close: a client still sending the body we refused would get a reset, and lose
  // the reply, if the socket closed with its bytes unread. So the sending side is shut (plain
  // HTTP: the client sees the end of the reply), and what arrives is read and dropped until
  // the client closes, for at most linger_timeout or linger_bytes.
  void Linger() {
    if constexpr (!kTls) {
      beast::error_code ignored;
      tcp_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
    buffer_.consume(buffer_.size());
    lingered_ = 0;
    tcp_.expires_after(options_.linger_timeout);
    Discard();
  }

  void Discard() {
    stream().async_read_some(buffer_.prepare(4096),
                             [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                               self->lingered_ += static_cast<std::int64_t>(n);
                               if (ec || self->lingered_ >= self->options_.linger_bytes) {
                                 self->buffer_.consume(self->buffer_.size());
                                 return self->Close();
                               }
                               self->Discard();
                             });
  }

  void Close() {
    // While stopping, the peer's close_notify is not waited for: a client that holds its
    // connection open would hold the stop for the shutdown's timeout.
    if constexpr (kTls) {
      if (tls_stream_ && !registry_->stopping() && tcp_.socket().is_open()) {
        tcp_.expires_after(std::chrono::seconds(2));
        tls_stream_->async_shutdown(
            [self = this->shared_from_this()](beast::error_code) { self->tcp_.close(); });
        return;
      }
    }
    beast::error_code ec;
    tcp_.socket().shutdown(tcp::socket::shutdown_send, ec);
    tcp_.close();
  }

  const ServerOptions& options_;
  HttpHandler& handler_;
  Metrics& metrics_;
  std::shared_ptr<SessionRegistry> registry_;
  ByteBudget& budget_;
  std::shared_ptr<boost::asio::ssl::context> tls_;  // outlives tls_stream_, which uses it
  beast::tcp_stream tcp_;
  std::optional<TlsStream> tls_stream_;  // kTls only, from the first byte on
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  ByteBudget::Reservation reservation_;  // the body's bytes, until its response is written
  std::shared_ptr<HttpResponse> response_;
  std::optional<http::response_serializer<http::string_body>> serializer_;
  std::int64_t lingered_ = 0;
  bool keep_alive_ = false;
  bool head_ = false;
  unsigned version_ = 11;
  bool idle_ = false;
};

// Logged at most once per this interval, with a count of what was left out.
constexpr std::chrono::seconds kAcceptLogInterval{10};
constexpr std::chrono::milliseconds kFirstBackoff{50};
constexpr std::chrono::milliseconds kLongestBackoff{1000};
constexpr std::chrono::seconds kTrimInterval{2};

// `threads` contexts, each for one thread (at least one: the acceptor lives on the first).
std::vector<std::unique_ptr<net::io_context>> MakeContexts(int threads) {
  std::vector<std::unique_ptr<net::io_context>> contexts;
  for (int i = 0; i < std::max(threads, 1); ++i) {
    contexts.push_back(std::make_unique<net::io_context>(1));
  }
  return contexts;
}

}  // namespace

HttpServer::HttpServer(ServerOptions options, HttpHandler& handler, Metrics& metrics)
    : options_(std::move(options)),
      handler_(handler),
      metrics_(metrics),
      budget_(options_.max_buffered_bytes),
      contexts_(MakeContexts(options_.threads)),
      acceptor_(net::make_strand(*contexts_.front())),
      accept_timer_(acceptor_.get_executor()),
      trim_timer_(net::make_strand(*contexts_.front())),
      sessions_(std::make_shared<SessionRegistry>()),
      tls_(options_.tls) {}

HttpServer::~HttpServer() { Stop(std::chrono::milliseconds(0)); }

Status HttpServer::Start() {
  beast::error_code ec;
  const std::string where =
      options_.endpoint.address().to_string() + ":" + std::to_string(options_.endpoint.port());
  acceptor_.open(options_.endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(options_.endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    return Status::InvalidArgument("server.address/server.port: cannot listen on " + where + ": " +
                                   ec.message());
  port_ = acceptor_.local_endpoint().port();
  for (const auto& context : contexts_) work_.push_back(net::make_work_guard(*context));
  Accept();
  TrimLater();
  for (const auto& context : contexts_) {
    threads_.emplace_back([&io = *context] { io.run(); });
  }
  return Status::Ok();
}

void HttpServer::Accept() {
  // Round robin over the threads' contexts.
  net::io_context& context = *contexts_[next_context_++ % contexts_.size()];
  acceptor_.async_accept(
      net::make_strand(context), [this](beast::error_code ec, tcp::socket socket) {
        if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
        if (ec) return OnAcceptError(ec);
        accept_backoff_ = std::chrono::milliseconds(0);
        // Every reply is one write that must leave at once: with Nagle's algorithm the first reply
        // on a new TLS connection waited for the client's delayed ACK (about 40 ms).
        beast::error_code nodelay_ec;
        socket.set_option(tcp::no_delay(true), nodelay_ec);
        const std::int64_t open = sessions_->size();
        if (open >= options_.max_connections) {
          // Accepted and closed at once: the backlog does not fill with clients left waiting, and
          // the client learns at once.
          metrics_.ConnectionRefused();
          beast::error_code ignored;
          socket.close(ignored);
        } else if (std::shared_ptr<net::ssl::context> tls = tls_.load()) {
          std::make_shared<Session<true>>(options_, handler_, metrics_, sessions_, budget_,
                                          std::move(tls), std::move(socket))
              ->Run();
        } else {
          std::make_shared<Session<false>>(options_, handler_, metrics_, sessions_, budget_,
                                           nullptr, std::move(socket))
              ->Run();
        }
        Accept();
      });
}

void HttpServer::OnAcceptError(const boost::system::error_code& ec) {
  metrics_.AcceptError();
  accept_backoff_ = std::clamp(accept_backoff_ * 2, kFirstBackoff, kLongestBackoff);
  const auto now = std::chrono::steady_clock::now();
  if (now - last_accept_log_ >= kAcceptLogInterval) {
    spdlog::warn("accept failed: {}; retrying in {} ms ({} more failures in the last {} s)",
                 ec.message(), accept_backoff_.count(), accept_logs_suppressed_,
                 kAcceptLogInterval.count());
    last_accept_log_ = now;
    accept_logs_suppressed_ = 0;
  } else {
    ++accept_logs_suppressed_;
  }
  accept_timer_.expires_after(accept_backoff_);
  accept_timer_.async_wait([this](beast::error_code wait_ec) {
    if (wait_ec || !acceptor_.is_open()) return;
    Accept();
  });
}

void HttpServer::TrimLater() {
  trim_timer_.expires_after(kTrimInterval);
  trim_timer_.async_wait([this](beast::error_code ec) {
    if (ec || sessions_->stopping()) return;
    // A burst has ended when the connections fell to half their peak: what its requests
    // allocated is free, and the heap gives it back (glibc keeps freed heap memory otherwise).
    const std::int64_t open = sessions_->size();
    peak_connections_ = std::max(peak_connections_, sessions_->TakePeak());
    if (peak_connections_ >= 16 && open <= peak_connections_ / 2) {
      malloc_trim(0);
      peak_connections_ = open;
    }
    TrimLater();
  });
}

void HttpServer::ReplaceTls(std::shared_ptr<net::ssl::context> tls) {
  if (tls_.load() && tls) tls_.store(std::move(tls));
}

void HttpServer::Stop(std::chrono::milliseconds grace) {
  if (threads_.empty()) return;
  net::post(acceptor_.get_executor(), [this] {
    beast::error_code ec;
    acceptor_.close(ec);
    accept_timer_.cancel();
  });
  net::post(trim_timer_.get_executor(), [this] { trim_timer_.cancel(); });
  sessions_->BeginStop();
  if (!sessions_->WaitEmpty(grace)) {
    spdlog::warn("stopping with connections still open after {} ms", grace.count());
  }
  work_.clear();
  for (const auto& context : contexts_) context->stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

}  // namespace drec
