// iSCSI URLs: what the SIM is configured with.
#include "sims/iscsi/url.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "tests/errno_of.h"

namespace ucam::iscsi {
namespace {

using testing::errno_of;

TEST(IscsiUrl, HostPortTargetAndLun) {
  auto url = parse_url("iscsi://127.0.0.1:3270/iqn.2003-01.test.local:changer/4");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, 3270);
  EXPECT_EQ(url->target, "iqn.2003-01.test.local:changer");
  EXPECT_EQ(url->lun, 4U);
  EXPECT_TRUE(url->user.empty());
  EXPECT_EQ(url->portal(), "127.0.0.1:3270");
  EXPECT_EQ(url->redacted(), "iscsi://127.0.0.1:3270/iqn.2003-01.test.local:changer/4");
}

TEST(IscsiUrl, DefaultPortNoLunAndATrailingSlash) {
  auto url = parse_url("iscsi://target.example/iqn.2024-01.example:disks/");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->port, kDefaultIscsiPort);
  EXPECT_EQ(url->target, "iqn.2024-01.example:disks");
  EXPECT_FALSE(url->lun);
  url = parse_url("iscsi://target.example/iqn.2024-01.example:disks");
  ASSERT_TRUE(url);
  EXPECT_FALSE(url->lun);
}

TEST(IscsiUrl, CredentialsAreParsedAndNeverShown) {
  auto url = parse_url("iscsi://alice%pa@ss:word@10.0.0.1/iqn.x/0");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->user, "alice");
  EXPECT_EQ(url->password, "pa@ss:word");  // The last '@' ends the credentials.
  EXPECT_EQ(url->host, "10.0.0.1");
  EXPECT_EQ(url->redacted(), "iscsi://alice@10.0.0.1:3260/iqn.x/0");
  const auto bad = parse_url("iscsi://alice%hunter2@10.0.0.1:0/iqn.x");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message().find("hunter2"), std::string::npos) << bad.error().message();
}

TEST(IscsiUrl, BracketedIpv6AndPercentEncodedTargets) {
  auto url = parse_url("iscsi://[::1]:3261/iqn.2003-01.test%3Apeer");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, 3261);
  EXPECT_EQ(url->target, "iqn.2003-01.test:peer");
  EXPECT_EQ(url->portal(), "[::1]:3261");
}

TEST(IscsiUrl, MalformedUrlsSayWhatIsWrong) {
  const auto message = [](std::string_view text) {
    auto r = parse_url(text);
    EXPECT_EQ(errno_of(r), EINVAL) << text;
    return r ? std::string() : r.error().message();
  };
  EXPECT_NE(message("http://h/iqn").find("iscsi://"), std::string::npos);
  EXPECT_NE(message("iscsi://h").find("no target"), std::string::npos);
  EXPECT_NE(message("iscsi://h/").find("no target"), std::string::npos);
  EXPECT_NE(message("iscsi:///iqn").find("no host"), std::string::npos);
  EXPECT_NE(message("iscsi://h:70000/iqn").find("port"), std::string::npos);
  EXPECT_NE(message("iscsi://h:/iqn").find("port"), std::string::npos);
  EXPECT_NE(message("iscsi://::1/iqn").find("brackets"), std::string::npos);
  EXPECT_NE(message("iscsi://[::1/iqn").find("'['"), std::string::npos);
  EXPECT_NE(message("iscsi://h/iqn/abc").find("LUN"), std::string::npos);
  EXPECT_NE(message("iscsi://h/iqn%4").find("escape"), std::string::npos);
  EXPECT_NE(message("iscsi://%pw@h/iqn").find("user"), std::string::npos);
}

}  // namespace
}  // namespace ucam::iscsi
