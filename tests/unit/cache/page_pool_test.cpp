#include "cache/page_pool.h"

#include <gtest/gtest.h>

#include <set>

namespace sglang {
namespace {

TEST(PagePool, AllocatesDistinctPagesUntilExhausted) {
  PagePool pool(10, 4);
  EXPECT_EQ(pool.pages_for(0), 0);
  EXPECT_EQ(pool.pages_for(1), 1);
  EXPECT_EQ(pool.pages_for(8), 2);
  EXPECT_EQ(pool.pages_for(9), 3);
  auto a = pool.allocate(6);
  ASSERT_TRUE(a);
  EXPECT_EQ(pool.num_free(), 4);
  EXPECT_FALSE(pool.allocate(5)) << "more pages than free must fail";
  EXPECT_EQ(pool.num_free(), 4) << "a failed allocation changes nothing";
  auto b = pool.allocate(4);
  ASSERT_TRUE(b);
  std::set<int32_t> all(a->begin(), a->end());
  all.insert(b->begin(), b->end());
  EXPECT_EQ(all.size(), 10u);
  pool.free(*a);
  pool.free(*b);
  EXPECT_EQ(pool.num_free(), 10);
}

TEST(PagePool, DoubleFreeIsDetected) {
  PagePool pool(4, 1);
  auto a = *pool.allocate(2);
  pool.free(a);
  EXPECT_THROW(pool.free(a), std::logic_error);
  std::vector<int32_t> bogus = {7};
  EXPECT_THROW(pool.free(bogus), std::logic_error);
}

}  // namespace
}  // namespace sglang
