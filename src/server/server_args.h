#pragma once
// SGLang's launch_server flags (python/sglang/srt/server_args.py): the same names and defaults,
// kept as one JSON object so /get_server_info can return them as SGLang does
// (dataclasses.asdict(server_args)). Flags that SGLang has but that do not apply here (GPU-only
// tuning, distributed serving) are accepted and logged as ignored when set, so an existing launch
// command keeps working; a misspelt flag is an error.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "util/status.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace sglang {

class ServerArgs {
 public:
  // Registers every flag on `app` (the `serve` / `launch_server` subcommand).
  void add_to(CLI::App& app);
  // After parsing: converts the flag strings to typed JSON values, fills derived defaults
  // (tokenizer_path = model_path, served_model_name = model_path, ...), and logs ignored flags.
  Status finalize();

  const nlohmann::ordered_json& json() const { return args_; }
  nlohmann::ordered_json& json() { return args_; }
  std::string str(const std::string& key) const;
  int64_t integer(const std::string& key, int64_t fallback = 0) const;  // fallback when null
  double number(const std::string& key, double fallback = 0) const;
  bool flag(const std::string& key) const;
  bool is_null(const std::string& key) const;

 private:
  struct Flag {
    std::string name;  // snake_case key; the flag is --name-with-dashes
    char type;         // 'b' bool, 'i' int, 'f' float, 's' string
    nlohmann::ordered_json default_value;
    bool applies;  // false: accepted for compatibility, no effect here
    std::string help;
  };
  static const std::vector<Flag>& flags();
  std::vector<std::string> raw_;  // one string per flag, as given
  std::vector<CLI::Option*> options_;
  nlohmann::ordered_json args_;
};

}  // namespace sglang
