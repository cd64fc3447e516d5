// libiscsi loaded on demand: the table the SIM calls through, and the error when the library
// (or one of its functions) is missing. No target needed.
#include "sims/iscsi/libiscsi_api.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

#include "tests/errno_of.h"

namespace ucam::iscsi {
namespace {

using testing::errno_of;

TEST(LibiscsiApi, LoadsEveryFunctionAndTheTableWorks) {
  auto lib = libiscsi();
  ASSERT_TRUE(lib) << lib.error().message();
  const LibiscsiApi& api = **lib;
#define UCAM_EXPECT_LOADED(name) EXPECT_NE(api.name, nullptr) << #name;
  UCAM_LIBISCSI_FUNCTIONS(UCAM_EXPECT_LOADED)
#undef UCAM_EXPECT_LOADED

  iscsi_context* context = api.iscsi_create_context("iqn.2024-01.org.ucam:loader-test");
  ASSERT_NE(context, nullptr);
  EXPECT_EQ(api.iscsi_set_targetname(context, "iqn.2024-01.org.ucam:target"), 0);
  EXPECT_EQ(api.iscsi_get_fd(context), -1);  // Not connected.
  unsigned char tur[6] = {};                 // TEST UNIT READY
  scsi_task* task = api.scsi_create_task(sizeof(tur), tur, SCSI_XFER_NONE, 0);
  ASSERT_NE(task, nullptr);
  api.scsi_free_scsi_task(task);
  EXPECT_EQ(api.iscsi_destroy_context(context), 0);
}

TEST(LibiscsiApi, LoadedOnceForTheProcess) {
  auto first = libiscsi();
  auto second = libiscsi();
  ASSERT_TRUE(first);
  ASSERT_TRUE(second);
  EXPECT_EQ(*first, *second);
}

TEST(LibiscsiApi, MissingLibraryIsAnErrorNamingItAndThePackage) {
  auto lib = load_libiscsi("libucam-no-such-library.so.7");
  ASSERT_FALSE(lib);
  EXPECT_EQ(errno_of(lib), ELIBACC);
  const std::string message = lib.error().message();
  EXPECT_NE(message.find("libucam-no-such-library.so.7"), std::string::npos) << message;
  EXPECT_NE(message.find("libiscsi7"), std::string::npos) << message;
}

TEST(LibiscsiApi, LibraryWithoutTheFunctionsIsAnErrorNamingTheFirstMissing) {
  auto lib = load_libiscsi("libc.so.6");  // Loads, but is not libiscsi.
  ASSERT_FALSE(lib);
  EXPECT_EQ(errno_of(lib), ELIBACC);
  const std::string message = lib.error().message();
  EXPECT_NE(message.find("libc.so.6 has no iscsi_create_context"), std::string::npos) << message;
  EXPECT_NE(message.find("libiscsi7"), std::string::npos) << message;
}

}  // namespace
}  // namespace ucam::iscsi
