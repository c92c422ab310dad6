#include "server/http_server.h"

// Boost.Beast 1.74's parser trips GCC 12's -Wmaybe-uninitialized when built with the sanitizers (a
// false positive on its boost::optional content length); the warning is off for this file only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <sys/socket.h>
#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cctype>
#include <cerrno>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "util/logging.h"

namespace sglang::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

std::string Request::header(const std::string& lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return "";
}

namespace {

// Kernel send buffer of a connection once it streams (SO_SNDBUF, which Linux doubles; without it
// autotuning lets one connection queue up to tcp_wmem's 4 MiB). Token streams need little; a
// modest one keeps a slow reader's backlog in the stream's own bounded, coalescing buffer
// (Exchange::buffered_bytes) instead of in megabytes of kernel memory per connection.
constexpr int kStreamSendBufferBytes = 64 << 10;

std::atomic<int64_t> g_buffered_bytes{0};
std::atomic<int64_t> g_peak_connection_bytes{0};
std::atomic<int64_t> g_backpressure_waits{0};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

class Session;

// The server's open connections, so that the ones still open when the I/O threads have stopped
// (a stream paused for a client that stopped reading) are closed before the io_context goes: a
// socket must not outlive it, and what a connection's callbacks hold must be let go.
class SessionRegistry {
 public:
  void add(Session* s, std::weak_ptr<Session> weak) {
    std::lock_guard lock(mu_);
    sessions_.emplace(s, std::move(weak));
  }
  void remove(Session* s) {
    std::lock_guard lock(mu_);
    sessions_.erase(s);
  }
  std::vector<std::shared_ptr<Session>> live() {
    std::lock_guard lock(mu_);
    std::vector<std::shared_ptr<Session>> out;
    for (auto& [p, weak] : sessions_) {
      if (auto s = weak.lock()) out.push_back(std::move(s));
    }
    return out;
  }

 private:
  std::mutex mu_;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_;
};

// One connection: read a request, hand it to the handler, write its response (full or chunked),
// repeat while keep-alive. Everything runs on the connection's strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const Handler& handler, const ServerOptions& options,
          SessionRegistry& registry)
      : stream_(std::move(socket)), handler_(handler), options_(options), registry_(registry) {}

  ~Session() {
    registry_.remove(this);
    g_buffered_bytes.fetch_sub(buffered_.load());  // posts that never ran
  }

  void start() {
    registry_.add(this, weak_from_this());
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_request(); });
  }

  // --- called through the Exchange (posted onto the strand) ---
  void respond(int status, std::string content_type, std::string body,
               std::vector<std::pair<std::string, std::string>> extra) {
    if (responding_ || closed_) return;
    responding_ = true;
    handed_over();
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(
        static_cast<bhttp::status>(status), version_);
    res->set(bhttp::field::server, "sglang-cpp");
    res->set(bhttp::field::content_type, content_type);
    for (auto& [k, v] : extra) res->set(k, v);
    res->keep_alive(keep_alive_);
    res->body() = std::move(body);
    res->prepare_payload();
    bhttp::async_write(stream_, *res,
                       [self = shared_from_this(), res](beast::error_code ec, size_t) {
                         self->after_response(ec);
                       });
  }

  void start_stream(int status, std::string content_type) {
    if (responding_ || closed_) return;
    responding_ = true;
    streaming_ = true;
    beast::error_code sndbuf_ec;  // best effort: the kernel's default is fine too
    stream_.socket().set_option(asio::socket_base::send_buffer_size(kStreamSendBufferBytes),
                                sndbuf_ec);
    stream_res_ = std::make_shared<bhttp::response<bhttp::empty_body>>(
        static_cast<bhttp::status>(status), version_);
    stream_res_->set(bhttp::field::server, "sglang-cpp");
    stream_res_->set(bhttp::field::content_type, content_type);
    stream_res_->set(bhttp::field::cache_control, "no-cache");
    stream_res_->keep_alive(keep_alive_);
    stream_res_->chunked(true);
    serializer_ = std::make_shared<bhttp::response_serializer<bhttp::empty_body>>(*stream_res_);
    writing_ = true;
    arm_write_deadline();
    bhttp::async_write_header(stream_, *serializer_,
                              [self = shared_from_this()](beast::error_code ec, size_t) {
                                self->writing_ = false;
                                self->stream_.expires_never();
                                if (ec) return self->fail();
                                self->write_next_chunk();
                              });
  }

  void send_chunk(std::string data) {
    if (!streaming_ || closed_ || data.empty()) return unbuffer(data.size());
    chunks_.push_back(std::move(data));
    write_next_chunk();
  }

  // --- backpressure accounting (buffer() from any thread, the rest on the strand) ---
  void buffer(size_t n) {
    const auto now = buffered_.fetch_add(static_cast<int64_t>(n)) + static_cast<int64_t>(n);
    g_buffered_bytes.fetch_add(static_cast<int64_t>(n));
    int64_t peak = g_peak_connection_bytes.load();
    while (now > peak && !g_peak_connection_bytes.compare_exchange_weak(peak, now)) {
    }
  }
  size_t buffered() const { return static_cast<size_t>(std::max<int64_t>(0, buffered_.load())); }
  void when_buffered_below(size_t low, std::function<void()> fn) {
    drained_low_ = low;
    on_drained_ = std::move(fn);
    notify_drained();
  }

  void end_stream() {
    if (!streaming_ || closed_) return;
    stream_ended_ = true;
    handed_over();
    write_next_chunk();
  }

  // `gen`: the request the exchange was made for; a registration that arrives after that request
  // was answered (or after the connection moved on to the next one) has nothing left to watch.
  void on_close(uint64_t gen, std::function<void()> cb) {
    if (closed_) {
      if (cb) cb();
      return;
    }
    if (gen != request_gen_ || response_handed_over_) return;
    on_close_ = std::move(cb);
  }

  uint64_t request_gen() const { return request_gen_; }

  // The server is gone (its I/O threads have stopped): close the socket and let go of every
  // callback, without running them. Called once no I/O thread runs.
  void close_at_shutdown() {
    on_close_ = nullptr;
    on_drained_ = nullptr;
    close();
  }

  bool closed() const { return closed_; }
  // The connection's strand (the socket was accepted onto one).
  asio::any_io_executor executor() { return stream_.get_executor(); }

 private:
  void read_request() {
    parser_.emplace();
    parser_->body_limit(options_.body_limit);
    parser_->header_limit(options_.header_limit);
    // One deadline for the whole request: an idle keep-alive connection, or a client that sends
    // its headers or body too slowly (slowloris), is closed when it passes.
    stream_.expires_after(std::chrono::milliseconds(options_.idle_timeout_ms));
    bhttp::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == asio::error::eof) return close();
    if (ec == bhttp::error::header_limit) {
      keep_alive_ = false;
      version_ = 11;
      return respond(431, "application/json",
                     R"({"error":{"message":"Request header fields too large."}})", {});
    }
    if (ec == bhttp::error::body_limit) {
      keep_alive_ = false;
      version_ = 11;
      return respond(413, "application/json", R"({"error":{"message":"Request body too large."}})",
                     {});
    }
    if (ec) return close();
    stream_.expires_never();
    auto& msg = parser_->get();
    Request req;
    req.method = std::string(msg.method_string());
    const std::string target(msg.target());
    const size_t q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) req.query = target.substr(q + 1);
    req.body = std::move(msg.body());
    for (const auto& f : msg)
      req.headers.emplace_back(lower(std::string(f.name_string())), std::string(f.value()));
    version_ = msg.version();
    keep_alive_ = msg.keep_alive();
    ++request_gen_;
    responding_ = streaming_ = stream_ended_ = response_handed_over_ = false;
    drop_chunks();
    on_close_ = nullptr;
    watch_disconnect();
    auto exchange = make_exchange();
    try {
      handler_(req, exchange);
    } catch (const std::exception& e) {
      SGLANG_LOG_ERROR("handler for {} {} threw: {}", req.method, req.path, e.what());
      exchange->respond(500, "application/json",
                        R"({"error":{"message":"Internal server error."}})");
    }
  }

  // While a handler works, a client that hangs up shows as the socket becoming readable with
  // nothing to read. (A pipelined next request also makes it readable; then it is left alone.)
  void watch_disconnect() {
    const uint64_t gen = request_gen_;
    stream_.socket().async_wait(
        tcp::socket::wait_read, [self = shared_from_this(), gen](beast::error_code ec) {
          if (ec == asio::error::operation_aborted || self->closed_ || gen != self->request_gen_) {
            return;
          }
          if (ec) return self->fail();
          // Readiness alone is not a hang-up: the reactor can report a stale edge left by the
          // request's own bytes. Peek: 0 bytes is the peer's FIN; "would block" means nothing
          // happened, so keep watching; data is a pipelined request, left for the next read.
          char byte;
          const ssize_t n =
              ::recv(self->stream_.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
          if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            self->fail();
          } else if (n < 0) {
            self->watch_disconnect();
          }
        });
  }

  void write_next_chunk() {
    if (writing_ || closed_) return;
    if (!chunks_.empty()) {
      writing_ = true;
      auto chunk = std::make_shared<ChunkWrite>(std::move(chunks_.front()));
      chunks_.pop_front();
      write_chunk_part(std::move(chunk));
      return;
    }
    if (stream_ended_) {
      writing_ = true;
      arm_write_deadline();
      asio::async_write(stream_, bhttp::make_chunk_last(),
                        [self = shared_from_this()](beast::error_code ec, size_t) {
                          self->writing_ = false;
                          self->stream_.expires_never();
                          self->after_response(ec);
                        });
    }
  }

  // A streamed write that makes no progress for the idle timeout (--http-idle-timeout) closes the
  // connection: a client that stopped reading while the socket's buffers are full is treated as
  // one that hung up, so its request is aborted and its pages freed instead of waiting forever
  // (as uvicorn's h11 protocol drops a connection whose transport write times out). Each piece
  // the kernel takes re-arms the deadline, so a slow reader that keeps reading is not cut off.
  void arm_write_deadline() {
    stream_.expires_after(std::chrono::milliseconds(options_.idle_timeout_ms));
  }

  struct ChunkWrite {
    explicit ChunkWrite(std::string d) : data(std::move(d)), rest(bhttp::make_chunk(buffer())) {}
    asio::const_buffer buffer() const { return asio::buffer(data); }
    std::string data;
    beast::buffers_suffix<bhttp::chunk_body<asio::const_buffer>> rest;  // not yet written
  };

  void write_chunk_part(std::shared_ptr<ChunkWrite> chunk) {
    arm_write_deadline();
    stream_.async_write_some(
        chunk->rest, [self = shared_from_this(), chunk](beast::error_code ec, size_t n) mutable {
          chunk->rest.consume(n);
          if (!ec && beast::buffer_bytes(chunk->rest) > 0) {
            return self->write_chunk_part(std::move(chunk));
          }
          self->stream_.expires_never();
          self->writing_ = false;
          self->unbuffer(chunk->data.size());
          if (ec) return self->fail();
          self->write_next_chunk();
        });
  }

  void after_response(beast::error_code ec) {
    if (ec) return fail();
    ++request_gen_;
    on_close_ = nullptr;
    beast::error_code cancel_ec;
    stream_.socket().cancel(cancel_ec);  // the disconnect watch of this request
    if (!keep_alive_) return close();
    read_request();
  }

  void fail() {
    if (closed_) return;
    auto cb = std::move(on_close_);
    on_close_ = nullptr;
    close();
    if (cb) cb();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    on_close_ = nullptr;  // a close that is not a hang-up (fail() took it first) tells no one
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
    drop_chunks();
    notify_drained();  // a producer waiting for room finishes its (aborted) work now
  }

  // The handler has given the whole response (respond(), or end_stream()): a hang-up from now on
  // has nothing to abort, so the close callback, which holds the handler's call (and the call
  // holds this connection through its exchange), is let go now. Otherwise a stream whose reader
  // stopped would keep the connection and its call alive in a cycle past the server's shutdown.
  void handed_over() {
    response_handed_over_ = true;
    on_close_ = nullptr;
  }

  void unbuffer(size_t n) {
    buffered_.fetch_sub(static_cast<int64_t>(n));
    g_buffered_bytes.fetch_sub(static_cast<int64_t>(n));
    notify_drained();
  }
  void drop_chunks() {
    size_t n = 0;
    for (const auto& c : chunks_) n += c.size();
    chunks_.clear();
    if (n) unbuffer(n);
  }
  void notify_drained() {
    if (!on_drained_ || (!closed_ && buffered() > drained_low_)) return;
    auto fn = std::move(on_drained_);
    on_drained_ = nullptr;
    fn();
  }

  std::shared_ptr<Exchange> make_exchange();

  beast::tcp_stream stream_;
  const Handler& handler_;
  const ServerOptions& options_;
  SessionRegistry& registry_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool responding_ = false, streaming_ = false, stream_ended_ = false, writing_ = false;
  bool closed_ = false;
  bool response_handed_over_ = false;
  uint64_t request_gen_ = 0;
  std::deque<std::string> chunks_;
  // Bytes given to the exchange's send_chunk and not yet written (or dropped): counted when the
  // producer hands them over, before they reach the strand, so a burst of posts counts at once.
  std::atomic<int64_t> buffered_{0};
  std::function<void()> on_drained_;  // when_buffered_below's callback, until it runs
  size_t drained_low_ = 0;
  std::function<void()> on_close_;
  std::shared_ptr<bhttp::response<bhttp::empty_body>> stream_res_;
  std::shared_ptr<bhttp::response_serializer<bhttp::empty_body>> serializer_;
};

// The handler's view of a Session: every call hops onto the session's executor.
class SessionExchange final : public Exchange {
 public:
  SessionExchange(std::shared_ptr<Session> s, uint64_t gen) : session_(std::move(s)), gen_(gen) {}
  void respond(int status, std::string ct, std::string body,
               std::vector<std::pair<std::string, std::string>> extra) override {
    post([=, body = std::move(body), extra = std::move(extra)](Session& s) mutable {
      s.respond(status, ct, std::move(body), std::move(extra));
    });
  }
  void start_stream(int status, std::string ct) override {
    post([=](Session& s) { s.start_stream(status, ct); });
  }
  void send_chunk(std::string data) override {
    session_->buffer(data.size());
    post([data = std::move(data)](Session& s) mutable { s.send_chunk(std::move(data)); });
  }
  size_t buffered_bytes() const override { return session_->buffered(); }
  void when_buffered_below(size_t low, std::function<void()> fn) override {
    post([low, fn = std::move(fn)](Session& s) mutable {
      s.when_buffered_below(low, std::move(fn));
    });
  }
  void end_stream() override {
    post([](Session& s) { s.end_stream(); });
  }
  void defer(std::function<void()> fn) override {
    post([fn = std::move(fn)](Session&) { fn(); });
  }
  bool closed() const override { return gone_->load(); }
  void on_close(std::function<void()> cb) override {
    // The flag, not this exchange, goes into the session's callback: the session may outlive
    // the exchange (nothing but the handler's call holds an exchange).
    post([gen = gen_, gone = gone_, cb = std::move(cb)](Session& s) mutable {
      s.on_close(gen, [gone, cb = std::move(cb)] {
        gone->store(true);
        if (cb) cb();
      });
    });
  }

 private:
  template <typename F>
  void post(F&& f) {
    asio::post(session_->executor(), [s = session_, f = std::forward<F>(f)]() mutable { f(*s); });
  }
  std::shared_ptr<Session> session_;
  const uint64_t gen_;  // the session's request this exchange answers
  std::shared_ptr<std::atomic<bool>> gone_ = std::make_shared<std::atomic<bool>>(false);
};

std::shared_ptr<Exchange> Session::make_exchange() {
  return std::make_shared<SessionExchange>(shared_from_this(), request_gen_);
}

}  // namespace

StreamBufferStats stream_buffer_stats() {
  return {g_buffered_bytes.load(), g_peak_connection_bytes.load(), g_backpressure_waits.load()};
}

void note_backpressure_wait() {
  g_backpressure_waits.fetch_add(1);
}

struct HttpServer::Impl {
  ServerOptions options;
  Handler handler;
  // Before the io_context: the sessions its destruction lets go of unregister themselves here.
  SessionRegistry sessions;
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  // Made here, not in run(): stop() (another thread) resets it, and run() must not race it.
  std::unique_ptr<asio::executor_work_guard<asio::io_context::executor_type>> work =
      std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(
          ioc.get_executor());
  int bound_port = 0;

  void accept() {
    acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket sock) {
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
        SGLANG_LOG_WARN("accept failed: {}", ec.message());
      } else {
        beast::error_code opt_ec;
        sock.set_option(tcp::no_delay(true), opt_ec);
        std::make_shared<Session>(std::move(sock), handler, options, sessions)->start();
      }
      accept();
    });
  }
};

HttpServer::HttpServer(ServerOptions options, Handler handler) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->handler = std::move(handler);
}

HttpServer::~HttpServer() {
  stop();
}

Status HttpServer::listen() {
  beast::error_code ec;
  auto address = asio::ip::make_address(impl_->options.host, ec);
  if (ec) {
    // A host name such as "localhost": resolve it.
    tcp::resolver resolver(impl_->ioc);
    auto results = resolver.resolve(impl_->options.host, std::to_string(impl_->options.port), ec);
    if (ec || results.empty()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "cannot resolve --host " + impl_->options.host);
    }
    address = results.begin()->endpoint().address();
  }
  const tcp::endpoint ep(address, static_cast<unsigned short>(impl_->options.port));
  auto& acc = impl_->acceptor;
  acc.open(ep.protocol(), ec);
  if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(ep, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return make_error(ErrorCode::kInvalidArgument, "cannot listen on " + impl_->options.host + ":" +
                                                       std::to_string(impl_->options.port) + ": " +
                                                       ec.message());
  }
  impl_->bound_port = acc.local_endpoint().port();
  return {};
}

int HttpServer::port() const {
  return impl_->bound_port;
}

void HttpServer::run() {
  impl_->accept();
  std::vector<std::thread> threads;
  const int n = std::max(1, impl_->options.io_threads);
  for (int i = 1; i < n; ++i) threads.emplace_back([this] { impl_->ioc.run(); });
  impl_->ioc.run();
  for (auto& t : threads) t.join();
  // No I/O thread runs now: the connections still open (a response its client stopped reading)
  // are closed here, on this thread, and let go of what their callbacks hold.
  for (auto& s : impl_->sessions.live()) s->close_at_shutdown();
}

void HttpServer::stop(int grace_ms) {
  if (!impl_) return;
  asio::post(impl_->ioc, [this] {
    beast::error_code ec;
    impl_->acceptor.close(ec);
  });
  if (grace_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(grace_ms));
  impl_->work.reset();
  impl_->ioc.stop();
}

}  // namespace sglang::http
