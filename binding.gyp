# CPU-only build of the addon with node-gyp (`npx node-gyp rebuild`), from the same source list
# as CMakeLists.txt (native/sources.json): common, core and the ISA groups, the addon, and no_cuda
# for the llmc_cuda_* entry points. The CUDA kernels (and the packers of their layouts, native/pack/)
# build only through CMake.
{
  "target_defaults": {
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions"],
    "cflags_cc": ["-std=c++17", "-O3", "-fvisibility=hidden"],
    "include_dirs": ["native/include", "native/common", "native/core"],
    "xcode_settings": {
      "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
      "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
      "OTHER_CPLUSPLUSFLAGS": ["-O3", "-fvisibility=hidden"]
    },
    "msvs_settings": {"VCCLCompilerTool": {"ExceptionHandling": 1, "AdditionalOptions": ["/std:c++17", "/O2"]}}
  },
  "targets": [
    {
      "target_name": "llmc",
      "sources": [
        "<!@(node -p \"require('./native/sources.json').common.join(' ')\")",
        "<!@(node -p \"require('./native/sources.json').core.join(' ')\")",
        "<!@(node -p \"require('./native/sources.json').no_cuda.join(' ')\")",
        "<!@(node -p \"require('./native/sources.json').addon.join(' ')\")"
      ],
      "include_dirs": ["<!(node -p \"require('path').dirname(require.resolve('node-addon-api/package.json'))\")"],
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "NAPI_CPP_EXCEPTIONS",
        "LLMC_VERSION=\"<!(node -p \"require('./package.json').version\")\""
      ],
      "conditions": [
        ["target_arch=='x64'", {
          "dependencies": ["llmc_avx2", "llmc_avx512"],
          "defines": ["LLMC_HAVE_X86_KERNELS=1"]
        }],
        ["target_arch=='arm64'", {
          "sources": ["<!@(node -p \"require('./native/sources.json').arm_neon.join(' ')\")"],
          "defines": ["LLMC_HAVE_NEON_KERNELS=1"]
        }]
      ]
    }
  ],
  "conditions": [
    ["target_arch=='x64'", {
      "targets": [
        {
          "target_name": "llmc_avx2",
          "type": "static_library",
          "sources": ["<!@(node -p \"require('./native/sources.json').x86_avx2.join(' ')\")"],
          "cflags_cc": ["-mavx2", "-mfma", "-mf16c"],
          "xcode_settings": {"OTHER_CPLUSPLUSFLAGS": ["-mavx2", "-mfma", "-mf16c"]},
          "msvs_settings": {"VCCLCompilerTool": {"AdditionalOptions": ["/arch:AVX2"]}}
        },
        {
          "target_name": "llmc_avx512",
          "type": "static_library",
          "sources": ["<!@(node -p \"require('./native/sources.json').x86_avx512.join(' ')\")"],
          "cflags_cc": ["-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mavx512vnni", "-mavx2", "-mfma", "-mf16c"],
          "xcode_settings": {"OTHER_CPLUSPLUSFLAGS": ["-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mavx512vnni", "-mavx2", "-mfma", "-mf16c"]},
          "msvs_settings": {"VCCLCompilerTool": {"AdditionalOptions": ["/arch:AVX512"]}}
        }
      ]
    }]
  ]
}
