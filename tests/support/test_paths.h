// Where tests find the shared test data (../shared by default; CMake cache PEREGRINE_SHARED_DIR).
#pragma once

#include <string>

namespace peregrine::test {

inline std::string shared_dir() { return PEREGRINE_SHARED_DIR; }
inline std::string model_path(const std::string& file) { return shared_dir() + "/models/" + file; }
inline std::string vocab_path(const std::string& file) { return shared_dir() + "/models/vocab/" + file; }
inline std::string golden_path(const std::string& rel) { return shared_dir() + "/golden/" + rel; }
inline std::string cli_path() { return PEREGRINE_CLI_PATH; }

// Reads a whole file; throws std::runtime_error naming the path when it cannot.
std::string read_file(const std::string& path);

}  // namespace peregrine::test
