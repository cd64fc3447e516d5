#include "sims/emu/models/ses_view.h"

#include <fmt/format.h>

namespace ucam::emu {

std::string EnclosureRef::describe() const {
  if (const auto* n = name()) {
    return fmt::format("\"{}\"", *n);
  }
  const LunAddress& a = *lun();
  return fmt::format("bus {} target {} lun {}", a.bus, a.target, a.lun);
}

const EnclosureView::Element* EnclosureView::find(EnclosureElement element) const {
  for (const auto& e : elements) {
    if (e.type == element.type && e.index == element.index) {
      return &e;
    }
  }
  return nullptr;
}

const EnclosureView::Element* EnclosureView::slot(int slot) const {
  for (const auto& e : elements) {
    if (e.slot == slot) {
      return &e;
    }
  }
  return nullptr;
}

std::size_t EnclosureView::slot_count() const {
  std::size_t n = 0;
  for (const auto& e : elements) {
    n += e.slot.has_value() ? 1 : 0;
  }
  return n;
}

}  // namespace ucam::emu
