// args.h — reading binding arguments into plain C++ values, with a typed error when they are off.
#pragma once

#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "errors.h"

namespace llmc_addon {

inline int64_t arg_int(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t min, int64_t max) {
  Napi::Env env = info.Env();
  if (i >= info.Length() || !info[i].IsNumber()) throw_invalid(env, std::string(name) + " must be a number");
  const double v = info[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(v) || std::floor(v) != v || v < static_cast<double>(min) || v > static_cast<double>(max))
    throw_invalid(env, std::string(name) + " must be an integer in [" + std::to_string(min) + ", " +
                           std::to_string(max) + "], got " + info[i].ToString().Utf8Value());
  return static_cast<int64_t>(v);
}

inline double arg_number(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Env env = info.Env();
  if (i >= info.Length() || !info[i].IsNumber()) throw_invalid(env, std::string(name) + " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

inline bool arg_bool(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Env env = info.Env();
  if (i >= info.Length() || !info[i].IsBoolean()) throw_invalid(env, std::string(name) + " must be a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

inline Napi::TypedArrayOf<float> arg_f32(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Env env = info.Env();
  if (i >= info.Length() || !info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw_invalid(env, std::string(name) + " must be a Float32Array");
  return info[i].As<Napi::TypedArrayOf<float>>();
}

// A typed array of element type T (napi type `type`, named `type_name` in errors); with
// `nullable`, null or undefined gives an empty array (Data() == nullptr).
template <class T>
inline Napi::TypedArrayOf<T> arg_typed(const Napi::CallbackInfo& info, size_t i, const char* name,
                                       napi_typedarray_type type, const char* type_name, bool nullable = false) {
  Napi::Env env = info.Env();
  if (nullable && (i >= info.Length() || info[i].IsNull() || info[i].IsUndefined())) return Napi::TypedArrayOf<T>();
  if (i >= info.Length() || !info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != type)
    throw_invalid(env, std::string(name) + " must be " + (nullable ? "null or " : "") + "a " + type_name);
  return info[i].As<Napi::TypedArrayOf<T>>();
}

// Throws unless `arr` (possibly empty: nullable) has at least `need` elements.
template <class T>
inline void need_len(Napi::Env env, const Napi::TypedArrayOf<T>& arr, int64_t need, const char* name) {
  const int64_t have = arr.IsEmpty() ? 0 : static_cast<int64_t>(arr.ElementLength());
  if (have < need)
    throw_invalid(env, std::string(name) + " has " + std::to_string(have) + " elements, needs " + std::to_string(need));
}

template <class T>
inline T* data_or_null(Napi::TypedArrayOf<T> arr) {
  return arr.IsEmpty() ? nullptr : arr.Data();
}

// Elements a row-major [rows × cols] view with row stride ld spans (0 when empty).
inline int64_t span(int64_t rows, int64_t cols, int64_t ld) {
  return rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols;
}

}  // namespace llmc_addon
