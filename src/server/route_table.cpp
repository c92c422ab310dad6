#include "server/route_table.h"

#include <algorithm>

#include "server/api_error.h"

namespace sglang {

void RouteTable::add(std::vector<std::string> methods, std::string path, Handler handler) {
  Route r;
  r.methods = std::move(methods);
  const size_t brace = path.find('{');
  r.has_param = brace != std::string::npos;
  r.prefix = r.has_param ? path.substr(0, brace) : std::move(path);
  r.handler = std::move(handler);
  routes_.push_back(std::move(r));
}

bool RouteTable::matches(const Route& r, const std::string& path, std::string* param) {
  if (!r.has_param) return path == r.prefix;
  if (path.size() <= r.prefix.size() || path.compare(0, r.prefix.size(), r.prefix) != 0) {
    return false;
  }
  std::string rest = path.substr(r.prefix.size());
  if (rest.find('/') != std::string::npos) return false;
  *param = std::move(rest);
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
