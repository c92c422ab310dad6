// The HTTP server's connection lifetime at shutdown (issue 16): a stream whose client stopped
// reading must not keep its connection and the handler's call alive past the server. The call
// holds its exchange, the exchange its connection, and the connection the call's close callback;
// the connection lets go of that callback once the response is handed over, and at shutdown.
#include "server/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

namespace sglang::http {
namespace {

// What a route's call is to the server: it holds the exchange, and its close callback holds it.
struct Call {
  std::shared_ptr<Exchange> ex;
};

struct Probe {
  std::atomic<bool> handled{false};
  std::weak_ptr<Exchange> exchange;  // set by the handler, read after the server stopped
};

// Starts a stream of `bytes` that the client never reads (more than the socket buffers hold),
// and ends it or not.
Handler stalled_stream_handler(Probe& probe, size_t bytes, bool end) {
  return [&probe, bytes, end](const Request&, std::shared_ptr<Exchange> ex) {
    auto call = std::make_shared<Call>();
    call->ex = ex;
    ex->on_close([call] { (void)call; });
    ex->start_stream(200, "text/event-stream");
    const std::string chunk(64 << 10, 'x');
    for (size_t sent = 0; sent < bytes; sent += chunk.size()) ex->send_chunk(chunk);
    if (end) ex->end_stream();
    probe.exchange = ex;
    probe.handled = true;
  };
}

// Connects with a small receive buffer, sends one request and never reads.
int stalled_client(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  const int rcvbuf = 4 << 10;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string req = "POST /generate HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
  EXPECT_EQ(::send(fd, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  return fd;
}

void expect_released_at_shutdown(bool end_stream) {
  Probe probe;
  ServerOptions opt;
  opt.port = 0;
  opt.io_threads = 2;
  HttpServer server(opt, stalled_stream_handler(probe, 8u << 20, end_stream));
  ASSERT_TRUE(server.listen().ok());
  std::thread io([&] { server.run(); });
  const int fd = stalled_client(server.port());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!probe.handled && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(probe.handled);
  // Let the writes fill the socket buffers and stall.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  server.stop();
  io.join();
  // The server has stopped with the stream still unwritten: the exchange (and with it the call
  // and the connection) is gone, not kept in a cycle.
  EXPECT_TRUE(probe.exchange.expired());
  ::close(fd);
}

TEST(HttpServerShutdown, EndedStreamToAStalledReaderIsReleased) {
  expect_released_at_shutdown(true);
}

TEST(HttpServerShutdown, UnfinishedStreamToAStalledReaderIsReleased) {
  expect_released_at_shutdown(false);
}

}  // namespace
}  // namespace sglang::http
