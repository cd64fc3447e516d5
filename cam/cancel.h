// Cancelling a synchronous command from another thread (ucamd aborts the commands of a client
// that hung up). The waiting thread passes the token to XptPeriph::run_sync(); any thread may
// call cancel() at any time: the command in flight, if any, is aborted (it completes with
// ReqAborted), and every later run_sync() with this token completes at once with ReqAborted.
#pragma once

#include <algorithm>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

#include "cam/ccb.h"

namespace ucam::cam {

class XptPeriph;

class CancelToken {
 public:
  // Aborts the armed command (XptPeriph::abort) and refuses later ones. Blocks only for the
  // abort itself; never from a completion callback.
  void cancel();
  bool cancelled() const {
    std::lock_guard lock(m_lock);
    return m_cancelled;
  }

  // For a thread that waits on its own condition rather than on a CCB (enc waiting for its
  // daemon): while a Watch lives, cancel() calls `wake` (under the token's lock, so never after
  // ~Watch returned); if the token is already cancelled, the constructor calls it. `wake` must
  // not call into the token, and no lock `wake` takes may be held while a Watch is made or
  // destroyed (lock order: the token's lock, then the waiter's). A null token never wakes.
  class Watch {
   public:
    Watch(CancelToken* token, std::function<void()> wake)
        : m_token(token), m_wake(std::move(wake)) {
      if (m_token != nullptr) {
        std::lock_guard lock(m_token->m_lock);
        m_token->m_watches.push_back(this);
        if (m_token->m_cancelled) {
          m_wake();
        }
      }
    }
    ~Watch() {
      if (m_token != nullptr) {
        std::lock_guard lock(m_token->m_lock);
        auto& w = m_token->m_watches;
        w.erase(std::remove(w.begin(), w.end(), this), w.end());
      }
    }
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;

   private:
    friend class CancelToken;
    CancelToken* m_token;
    std::function<void()> m_wake;
  };

 private:
  friend class Xpt;
  // The XPT arms the token with each CCB it is about to queue and disarms it before run_sync()
  // returns, so every CCB in `m_ccbs` is alive. arm() returns false if already cancelled.
  bool arm(XptPeriph& xpt, Ccb& ccb) {
    std::lock_guard lock(m_lock);
    m_xpt = &xpt;
    m_ccbs.push_back(&ccb);
    return !m_cancelled;
  }
  void disarm(Ccb& ccb) {
    std::lock_guard lock(m_lock);
    m_ccbs.erase(std::remove(m_ccbs.begin(), m_ccbs.end(), &ccb), m_ccbs.end());
  }

  mutable std::mutex m_lock;
  bool m_cancelled = false;       // Guarded by m_lock.
  XptPeriph* m_xpt = nullptr;     // Guarded by m_lock.
  std::vector<Ccb*> m_ccbs;       // Guarded by m_lock: the CCBs in flight (one per waiting thread).
  std::vector<Watch*> m_watches;  // Guarded by m_lock: every live Watch.
};

}  // namespace ucam::cam
