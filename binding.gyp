{
  "targets": [
    {
      "target_name": "basin",
      "sources": ["native/basin.cc"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node native/torch-paths.cjs include)"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "<!@(node native/torch-paths.cjs defines)"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++1y", "-std=gnu++14"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter", "-Wno-deprecated-declarations"],
      "libraries": [
        "-L<!(node native/torch-paths.cjs libdir)",
        "-Wl,-rpath,<!(node native/torch-paths.cjs libdir)",
        "-ltorch", "-ltorch_cpu", "-lc10"
      ]
    }
  ]
}
