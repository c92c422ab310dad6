#pragma once
// An event-driven HTTP/1.1 server (Boost.Beast over Asio): a few I/O threads serve every
// connection; nothing blocks them. A handler gets the parsed request and an Exchange through which
// it answers later, from any thread: one full response, or a chunked stream (SSE) of pieces. The
// server notices a client that goes away mid-response (read side closes) and tells the exchange's
// on_close callback, so the engine can abort the request.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "util/status.h"

namespace sglang::http {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // target without the query string
  std::string query;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  // A header's value, or "" when absent.
  std::string header(const std::string& lower_name) const;
};

class Exchange {
 public:
  virtual ~Exchange() = default;
  // One complete response. Ignored when a response was already started or the client is gone.
  virtual void respond(int status, std::string content_type, std::string body,
                       std::vector<std::pair<std::string, std::string>> extra_headers = {}) = 0;
  // A chunked response (status + headers now, then pieces, then the end).
  virtual void start_stream(int status, std::string content_type) = 0;
  virtual void send_chunk(std::string data) = 0;
  virtual void end_stream() = 0;
  // True once the client has gone away (or the response is complete).
  virtual bool closed() const = 0;
  // Called once, from an I/O thread, if the client disconnects before the response completes.
  virtual void on_close(std::function<void()> callback) = 0;
  // Runs `fn` on an I/O thread, serialized with this exchange's other work (the handler itself,
  // earlier defer()s): the way back from the engine's thread to the connection.
  virtual void defer(std::function<void()> fn) = 0;
  // Backpressure for streams: the bytes handed to send_chunk that the client has not taken yet
  // (queued here or in a write). A producer stops pulling output while this is above its bound
  // and resumes from when_buffered_below(), so a slow reader costs a bounded buffer. Thread-safe.
  virtual size_t buffered_bytes() const { return 0; }
  // Calls `fn` once, serialized like defer(), as soon as buffered_bytes() <= `low` (at once if it
  // is already) or the client has gone away. A later call replaces an earlier one not yet run.
  virtual void when_buffered_below(size_t /*low*/, std::function<void()> fn) {
    defer(std::move(fn));
  }
};

// Process-wide counters of streamed bytes waiting for slow clients (every HttpServer's
// connections), for /metrics and the soak test.
struct StreamBufferStats {
  int64_t buffered_bytes = 0;         // now, over all connections
  int64_t peak_connection_bytes = 0;  // the most one connection has held since start
  int64_t backpressure_waits = 0;     // times a stream producer paused for a slow client
};
StreamBufferStats stream_buffer_stats();
// Producers call this when they pause for a slow client (counted in backpressure_waits).
void note_backpressure_wait();

using Handler = std::function<void(const Request&, std::shared_ptr<Exchange>)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 30000;
  int io_threads = 2;
  uint64_t body_limit = 64ull << 20;    // bytes; larger requests get 413
  uint32_t header_limit = 64u << 10;    // request line + headers, bytes; larger get 431
  int64_t idle_timeout_ms = 60 * 1000;  // an idle or slowly sending connection is closed
};

class HttpServer {
 public:
  HttpServer(ServerOptions options, Handler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens (an error names the address when the port is taken).
  Status listen();
  // Serves until stop(); returns after the I/O threads have finished.
  void run();
  // Stops accepting new connections and, after `grace_ms`, stops the I/O threads. Thread-safe.
  void stop(int grace_ms = 0);
  int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sglang::http
