#pragma once
// One route table: method + path → handler, with FastAPI's answers for what matches nothing
// (404 {"detail": "Not Found"}) and for a path served under other methods (405 {"detail":
// "Method Not Allowed"}). A path may hold one parameter, as FastAPI's: "{id}" is one segment
// ("/v1/responses/{id}/cancel"), "{name:path}" the rest of the path, slashes included
// ("/v1/models/{model:path}"); the handler receives its value.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "server/http_server.h"

namespace sglang {

class RouteTable {
 public:
  // `path_param`: the value of the trailing "{...}" segment, or "".
  using Handler = std::function<void(const http::Request&, std::shared_ptr<http::Exchange>,
                                     const std::string& path_param)>;
  // `methods`: e.g. {"GET", "POST"}.
  void add(std::vector<std::string> methods, std::string path, Handler handler);
  void dispatch(const http::Request& req, std::shared_ptr<http::Exchange> ex) const;

 private:
  struct Route {
    std::vector<std::string> methods;
    std::string prefix;  // the path, or the part before "{...}"
    std::string suffix;  // the part after "{...}"
    bool has_param = false;
    bool param_is_path = false;  // "{name:path}"
    Handler handler;
  };
  // Whether `path` matches `r`; sets `param` for a parameter route.
  static bool matches(const Route& r, const std::string& path, std::string* param);
  std::vector<Route> routes_;
};

}  // namespace sglang
