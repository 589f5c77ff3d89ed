// Metadata values on their own: lossless accessors, equality, rendering.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "gguf/gguf.h"

namespace mint::gguf {
namespace {

TEST(GgufValue, AccessorsConvertOnlyWithoutLoss) {
  const Value big = Value::Unsigned(ValueType::kUint64, uint64_t{1} << 63);
  EXPECT_FALSE(big.AsInt().ok());
  EXPECT_EQ(*big.AsUint(), uint64_t{1} << 63);
  EXPECT_EQ(*big.AsFloat(), 9223372036854775808.0);
  const Value odd = Value::Unsigned(ValueType::kUint64, (uint64_t{1} << 53) + 1);
  EXPECT_FALSE(odd.AsFloat().ok());  // not representable as a double
  const Value neg = Value::Signed(ValueType::kInt32, -5);
  EXPECT_EQ(*neg.AsInt(), -5);
  EXPECT_FALSE(neg.AsUint().ok());
  EXPECT_EQ(*neg.AsFloat(), -5.0);
  EXPECT_FALSE(neg.AsBool().ok());
  EXPECT_FALSE(neg.AsString().ok());
  EXPECT_EQ(neg.AsArray(), nullptr);
  const Value whole = Value::Float(ValueType::kFloat32, 3.0);
  EXPECT_EQ(*whole.AsInt(), 3);
  EXPECT_EQ(*whole.AsUint(), 3u);
  EXPECT_FALSE(Value::Float(ValueType::kFloat32, 2.5).AsInt().ok());
  EXPECT_FALSE(Value::Float(ValueType::kFloat64, NAN).AsInt().ok());
  EXPECT_FALSE(Value::Float(ValueType::kFloat64, 1e30).AsInt().ok());
  EXPECT_FALSE(Value::Float(ValueType::kFloat64, -1.0).AsUint().ok());
  EXPECT_EQ(Value::Bool(true).AsInt().status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(*Value::String("x").AsString(), "x");
  EXPECT_NE(Value::MakeArray(ValueType::kUint8, {}).AsArray(), nullptr);
}

TEST(GgufValue, ValuesEqualIsExact) {
  EXPECT_TRUE(
      ValuesEqual(Value::Float(ValueType::kFloat64, NAN), Value::Float(ValueType::kFloat64, NAN)));
  EXPECT_FALSE(
      ValuesEqual(Value::Float(ValueType::kFloat64, 0.0), Value::Float(ValueType::kFloat64, -0.0)));
  EXPECT_FALSE(
      ValuesEqual(Value::Unsigned(ValueType::kUint8, 1), Value::Unsigned(ValueType::kUint16, 1)));
  EXPECT_FALSE(
      ValuesEqual(Value::Unsigned(ValueType::kUint8, 1), Value::Signed(ValueType::kUint8, 1)));
  const Value a = Value::MakeArray(ValueType::kString, {Value::String("a"), Value::String("b")});
  const Value b = Value::MakeArray(ValueType::kString, {Value::String("a"), Value::String("c")});
  EXPECT_TRUE(ValuesEqual(a, a));
  EXPECT_FALSE(ValuesEqual(a, b));
}

TEST(GgufValue, FormatValue) {
  EXPECT_EQ(FormatValue(Value::Unsigned(ValueType::kUint32, 7)), "7");
  EXPECT_EQ(FormatValue(Value::Signed(ValueType::kInt64, -7)), "-7");
  EXPECT_EQ(FormatValue(Value::Float(ValueType::kFloat32, 1e-5f)), "1e-05");
  EXPECT_EQ(FormatValue(Value::Float(ValueType::kFloat32, 0.1f)), "0.1");
  EXPECT_EQ(FormatValue(Value::Float(ValueType::kFloat64, 0.1)), "0.1");
  EXPECT_EQ(FormatValue(Value::Float(ValueType::kFloat64, INFINITY)), "inf");
  EXPECT_EQ(FormatValue(Value::Bool(false)), "false");
  EXPECT_EQ(FormatValue(Value::String("a\"b\\\x01")), "\"a\\\"b\\\\\\x01\"");
  const std::string longs(300, 'x');
  EXPECT_EQ(FormatValue(Value::String(longs)), "\"" + std::string(200, 'x') + "\"...(300 bytes)");
  std::vector<Value> items;
  for (int i = 0; i < 10; ++i) items.push_back(Value::Signed(ValueType::kInt32, i));
  EXPECT_EQ(FormatValue(Value::MakeArray(ValueType::kInt32, items), 3), "[10 i32: 0, 1, 2, ...]");
  EXPECT_EQ(FormatValue(Value::MakeArray(ValueType::kInt32, items)),
            "[10 i32: 0, 1, 2, 3, 4, 5, 6, 7, ...]");
  EXPECT_EQ(FormatValue(Value::MakeArray(ValueType::kString, {})), "[0 strings]");
  EXPECT_STREQ(ValueTypeName(ValueType::kFloat64), "f64");
  EXPECT_STREQ(ValueTypeName(static_cast<ValueType>(99)), "unknown");
  EXPECT_TRUE(IsValidValueType(12));
  EXPECT_FALSE(IsValidValueType(13));
}

}  // namespace
}  // namespace mint::gguf
