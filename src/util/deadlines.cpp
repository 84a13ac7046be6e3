#include "util/deadlines.h"

#include <boost/asio/steady_timer.hpp>
#include <memory>

namespace drec {

Deadlines::Deadlines() : work_(ioc_.get_executor()), thread_([this] { ioc_.run(); }) {}

Deadlines::~Deadlines() {
  work_.reset();
  ioc_.stop();
  thread_.join();
}

void Deadlines::After(std::chrono::steady_clock::duration delay, std::function<void()> fn) {
  auto timer = std::make_shared<boost::asio::steady_timer>(ioc_, delay);
  timer->async_wait([timer, fn = std::move(fn)](const boost::system::error_code& ec) {
    if (!ec) fn();
  });
}

}  // namespace drec
