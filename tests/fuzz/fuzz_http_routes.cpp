// HTTP request → route dispatch in process: the server's one handler (ApiServer::handle, every
// route's parsing, validation and tokenization) on a tiny random Qwen2 checkpoint with the real
// Qwen3 tokenizer, no sockets. The first input byte picks the route, the rest is the body. Every
// request must be answered (a response or a finished stream) within the fuzzer's time limit:
// client input is accepted or refused, never a crash, a hang or undefined behaviour.
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "kernels/cpu/cpu_backend.h"
#include "model/random_checkpoint.h"
#include "server/api_server.h"
#include "server/http_server.h"
#include "server/server_args.h"

namespace {

using namespace sglang;

// The I/O thread's side of one request, played by the fuzzing thread: deferred work is queued and
// run by wait() in order, as the real server serializes it per connection.
class FuzzExchange final : public http::Exchange {
 public:
  void respond(int status, std::string, std::string body,
               std::vector<std::pair<std::string, std::string>>) override {
    // Client input is the client's error (4xx) or a full/stopping server (503), never a 500.
    if (status >= 500 && status != 503) {
      std::fprintf(stderr, "fuzz_http_routes: answered %d: %s\n", status, body.c_str());
      std::abort();
    }
    finish();
  }
  void start_stream(int, std::string) override {}
  void send_chunk(std::string) override {}
  void end_stream() override { finish(); }
  bool closed() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
  }
  void on_close(std::function<void()> callback) override {
    std::lock_guard<std::mutex> lock(mu_);
    on_close_ = std::move(callback);
  }
  void defer(std::function<void()> fn) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!left_) {
        queue_.push_back(std::move(fn));
        cv_.notify_all();
        return;
      }
    }
    fn();  // after the response, nothing else runs on this exchange: no need to serialize
  }
  // Runs deferred work until the response is complete.
  void wait() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return done_ || !queue_.empty(); });
      if (queue_.empty()) break;
      auto fn = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      fn();
      lock.lock();
    }
    on_close_ = nullptr;  // it may hold this exchange
    left_ = true;
  }

 private:
  void finish() {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    cv_.notify_all();
  }
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::function<void()> on_close_;
  bool done_ = false;
  bool left_ = false;  // wait() has returned
};

struct Route {
  const char* method;
  const char* path;
};
// Every route but /update_weights_from_disk (it reads the file system) and the expert recorder's.
constexpr Route kRoutes[] = {
    {"POST", "/generate"},
    {"POST", "/v1/completions"},
    {"POST", "/v1/chat/completions"},
    {"POST", "/v1/responses"},
    {"POST", "/tokenize"},
    {"POST", "/detokenize"},
    {"POST", "/v1/tokenize"},
    {"POST", "/v1/detokenize"},
    {"POST", "/encode"},
    {"POST", "/classify"},
    {"POST", "/v1/embeddings"},
    {"POST", "/v1/rerank"},
    {"POST", "/v1/score"},
    {"POST", "/parse_function_call"},
    {"POST", "/separate_reasoning"},
    {"POST", "/abort_request"},
    {"GET", "/health"},
    {"GET", "/health_generate"},
    {"GET", "/model_info"},
    {"GET", "/server_info"},
    {"POST", "/flush_cache"},
    {"GET", "/get_load"},
    {"GET", "/v1/models"},
    {"GET", "/metrics"},
    {"GET", "/v1/models/tiny"},
    {"GET", "/v1/responses/resp_1"},
    {"POST", "/v1/responses/resp_1/cancel"},
    {"PUT", "/generate"},
    {"GET", "/generate"},
    {"POST", "/no_such_route"},
};

// Never destroyed: at exit the scheduler and any detached request thread may still run, and
// libFuzzer's leak check sees both through these pointers.
CpuBackend* g_backend = nullptr;
ApiServer* g_server = nullptr;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "fuzz_http_routes: %s\n", what.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* assets_env = std::getenv("SGLANG_FUZZ_ASSETS");
  const std::filesystem::path assets = assets_env ? assets_env : "../shared/assets";
  const std::string model = std::filesystem::temp_directory_path() /
                            ("sglang_fuzz_tiny_qwen2_" + std::to_string(getpid()));
  auto spec = checkpoint_spec_tiny("qwen2");
  if (!spec.ok()) die(spec.error().message);
  if (Status st = write_random_checkpoint(*spec, 1, model); !st.ok()) die(st.error().message);
  // The flags as `sglang-cpp serve` parses them, so that every default is the real server's.
  CLI::App app;
  ServerArgsParser parser;
  parser.add_to(app);
  std::vector<std::string> argv = {"serve",
                                   "--model-path",
                                   model,
                                   "--tokenizer-path",
                                   (assets / "qwen3-tokenizer").string(),
                                   "--context-length",
                                   "64",  // every accepted request is short
                                   "--max-total-tokens",
                                   "1024",
                                   "--enable-metrics",
                                   "--threads",
                                   "1"};
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  try {
    app.parse(static_cast<int>(cargv.size()), cargv.data());
  } catch (const CLI::ParseError& e) {
    die(e.what());
  }
  auto finalized = parser.finalize();
  if (!finalized.ok()) die(finalized.error().message);
  g_backend = new CpuBackend(1);
  auto server = ApiServer::create(*finalized, *g_backend);
  std::filesystem::remove_all(model);  // loaded into memory
  if (!server.ok()) die(server.error().message);
  g_server = server->release();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Route& route = kRoutes[data[0] % (sizeof(kRoutes) / sizeof(kRoutes[0]))];
  http::Request req;
  req.method = route.method;
  req.path = route.path;
  req.body.assign(reinterpret_cast<const char*>(data) + 1, size - 1);
  req.headers = {{"content-type", "application/json"}};
  auto ex = std::make_shared<FuzzExchange>();
  g_server->handle(req, ex);
  ex->wait();
  return 0;
}
