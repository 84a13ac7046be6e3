#include "http/server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <unordered_map>

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
  }
  void Remove(SessionBase* s) {
    std::lock_guard lock(mu_);
    sessions_.erase(s);
    if (sessions_.empty()) empty_.notify_all();
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
};

namespace {

HttpResponse ErrorResponse(http::status status, std::string_view message) {
  HttpResponse res{status, 11};
  res.set(http::field::content_type, "application/json");
  res.body() = std::string(R"({"error":")") + std::string(message) + "\"}";
  res.keep_alive(false);
  return res;
}

// One connection. Stream is beast::tcp_stream or beast::ssl_stream<beast::tcp_stream>.
template <typename Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  // `tls`: the context a TLS stream_ is made with (null for plain HTTP), held for the
  // connection's life because a reload may replace the server's.
  template <typename... Args>
  Session(const ServerOptions& options, HttpHandler& handler, Metrics& metrics,
          std::shared_ptr<SessionRegistry> registry, std::shared_ptr<boost::asio::ssl::context> tls,
          Args&&... stream_args)
      : options_(options),
        handler_(handler),
        metrics_(metrics),
        registry_(std::move(registry)),
        tls_(std::move(tls)),
        stream_(std::forward<Args>(stream_args)...) {}

  ~Session() override { registry_->Remove(this); }

  void Run() {
    registry_->Add(this, this->weak_from_this());
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] { self->Begin(); });
  }

  void CloseIfIdle() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      if (self->idle_) beast::get_lowest_layer(self->stream_).cancel();
    });
  }

 private:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  void Begin() {
    if constexpr (kTls) {
      // No request is in progress until the handshake is done: a stop may close it at once.
      idle_ = true;
      beast::get_lowest_layer(stream_).expires_after(options_.read_timeout);
      stream_.async_handshake(net::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) return;  // failed handshakes are the client's problem
                                self->ReadHeader();
                              });
    } else {
      ReadHeader();
    }
  }

  void ReadHeader() {
    if (registry_->stopping()) return Close();
    parser_.emplace();
    parser_->header_limit(options_.max_header_bytes);
    parser_->body_limit(static_cast<std::uint64_t>(options_.max_body_bytes));
    idle_ = true;
    beast::get_lowest_layer(stream_).expires_after(options_.idle_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](beast::error_code ec, size_t) {
                              self->idle_ = false;
                              self->OnHeader(ec);
                            });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    beast::get_lowest_layer(stream_).expires_after(options_.read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->OnReadError(ec);
                       self->Dispatch();
                     });
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      return Write(ErrorResponse(http::status::payload_too_large, "body exceeds the size limit"));
    }
    if (ec == http::error::header_limit) {
      return Write(ErrorResponse(http::status::request_header_fields_too_large,
                                 "headers exceed the size limit"));
    }
    if (ec.category() == beast::error_code(http::error::bad_target).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message) {
      return Write(ErrorResponse(http::status::bad_request, "malformed HTTP request"));
    }
    Close();  // timeouts, resets, end of stream: nobody to answer
  }

  void Dispatch() {
    HttpRequest request = parser_->release();
    keep_alive_ = request.keep_alive();
    version_ = request.version();
    head_ = request.method() == http::verb::head;
    auto self = this->shared_from_this();
    handler_.Handle(std::move(request), [self](HttpResponse response) {
      net::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
        self->Write(std::move(response));
      });
    });
  }

  void Write(HttpResponse response) {
    response.version(version_);
    if (!keep_alive_ || registry_->stopping()) response.keep_alive(false);
    response.prepare_payload();
    metrics_.HttpResponse(response.result_int());
    response_ = std::make_shared<HttpResponse>(std::move(response));
    serializer_.emplace(*response_);
    beast::get_lowest_layer(stream_).expires_after(options_.read_timeout);
    auto written = [self = this->shared_from_this()](beast::error_code ec, size_t) {
      const bool keep = self->response_->keep_alive();
      self->serializer_.reset();
      self->response_.reset();
      if (ec || !keep) return self->Close();
      self->ReadHeader();
    };
    // A HEAD answer has the GET answer's headers, Content-Length included, and no body.
    if (head_) {
      http::async_write_header(stream_, *serializer_, std::move(written));
    } else {
      http::async_write(stream_, *serializer_, std::move(written));
    }
  }

  void Close() {
    // While stopping, the peer's close_notify is not waited for: a client that holds its
    // connection open would hold the stop for the shutdown's timeout.
    if constexpr (kTls) {
      if (!registry_->stopping()) {
        beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
        stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
          beast::get_lowest_layer(self->stream_).close();
        });
        return;
      }
    }
    beast::error_code ec;
    auto& tcp_stream = beast::get_lowest_layer(stream_);
    tcp_stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    tcp_stream.close();
  }

  const ServerOptions& options_;
  HttpHandler& handler_;
  Metrics& metrics_;
  std::shared_ptr<SessionRegistry> registry_;
  std::shared_ptr<boost::asio::ssl::context> tls_;  // declared before stream_, which uses it
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<HttpResponse> response_;
  std::optional<http::response_serializer<http::string_body>> serializer_;
  bool keep_alive_ = false;
  bool head_ = false;
  unsigned version_ = 11;
  bool idle_ = false;
};

}  // namespace

HttpServer::HttpServer(ServerOptions options, HttpHandler& handler, Metrics& metrics)
    : options_(std::move(options)),
      handler_(handler),
      metrics_(metrics),
      ioc_(options_.threads),
      acceptor_(net::make_strand(ioc_)),
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
  work_.emplace(ioc_.get_executor());
  Accept();
  for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this] { ioc_.run(); });
  return Status::Ok();
}

void HttpServer::Accept() {
  acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      if (std::shared_ptr<net::ssl::context> tls = tls_.load()) {
        net::ssl::context& context = *tls;
        std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
            options_, handler_, metrics_, sessions_, std::move(tls), std::move(socket), context)
            ->Run();
      } else {
        std::make_shared<Session<beast::tcp_stream>>(options_, handler_, metrics_, sessions_,
                                                     nullptr, std::move(socket))
            ->Run();
      }
    } else {
      spdlog::warn("accept failed: {}", ec.message());
    }
    Accept();
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
  });
  sessions_->BeginStop();
  if (!sessions_->WaitEmpty(grace)) {
    spdlog::warn("stopping with connections still open after {} ms", grace.count());
  }
  work_.reset();
  ioc_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

}  // namespace drec
