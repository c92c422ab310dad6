#include "server/route_table.h"

#include <algorithm>

#include "server/api_error.h"

namespace sglang {

void RouteTable::add(std::vector<std::string> methods, std::string path, Handler handler) {
  Route r;
  r.methods = std::move(methods);
  const size_t open = path.find('{');
  r.has_param = open != std::string::npos;
  if (r.has_param) {
    const size_t close = path.find('}', open);
    const std::string name = path.substr(open + 1, close - open - 1);
    r.param_is_path = name.size() > 5 && name.compare(name.size() - 5, 5, ":path") == 0;
    r.prefix = path.substr(0, open);
    r.suffix = path.substr(close + 1);
  } else {
    r.prefix = std::move(path);
  }
  r.handler = std::move(handler);
  routes_.push_back(std::move(r));
}

bool RouteTable::matches(const Route& r, const std::string& path, std::string* param) {
  if (!r.has_param) return path == r.prefix;
  const size_t fixed = r.prefix.size() + r.suffix.size();
  if (path.size() <= fixed || path.compare(0, r.prefix.size(), r.prefix) != 0 ||
      path.compare(path.size() - r.suffix.size(), r.suffix.size(), r.suffix) != 0) {
    return false;
  }
  std::string value = path.substr(r.prefix.size(), path.size() - fixed);
  if (!r.param_is_path && value.find('/') != std::string::npos) return false;
  *param = std::move(value);
  return true;
}

void RouteTable::dispatch(const http::Request& req, std::shared_ptr<http::Exchange> ex) const {
  bool path_known = false;
  for (const Route& r : routes_) {
    std::string param;
    if (!matches(r, req.path, &param)) continue;
    path_known = true;
    if (std::find(r.methods.begin(), r.methods.end(), req.method) == r.methods.end()) continue;
    r.handler(req, std::move(ex), param);
    return;
  }
  respond_error(ex, path_known ? ApiError::method_not_allowed() : ApiError::not_found());
}

}  // namespace sglang
