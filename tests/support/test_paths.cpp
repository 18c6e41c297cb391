#include "support/test_paths.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace peregrine::test {

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open test data file " + path);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace peregrine::test
