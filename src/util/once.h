// A callback that runs at most once, whichever of several threads calls it first: a reply that
// either its work or its deadline delivers, never both.
#pragma once

#include <functional>
#include <mutex>
#include <utility>

namespace drec {

template <class... Args>
class Once {
 public:
  explicit Once(std::function<void(Args...)> fn) : fn_(std::move(fn)) {}

  // Runs the callback unless it ran before; true when this call ran it. The callback is
  // released afterwards, so whatever it holds (a connection) does not wait for later callers.
  bool Call(Args... args) {
    std::function<void(Args...)> fn;
    {
      std::lock_guard lock(mu_);
      fn = std::move(fn_);
      fn_ = nullptr;
    }
    if (!fn) return false;
    fn(std::forward<Args>(args)...);
    return true;
  }

  // True once the callback has run (or is running).
  bool Called() const {
    std::lock_guard lock(mu_);
    return !fn_;
  }

 private:
  mutable std::mutex mu_;
  std::function<void(Args...)> fn_;
};

}  // namespace drec
