// Errors the engine reports. Every message carries its context (file, field or tensor, offset) so a
// one-line error is enough for the user to know what is wrong.
#pragma once

#include <stdexcept>
#include <string>

namespace peregrine {

// Base of every engine error: the what() text is meant to be shown to a user as is.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A GGUF file is missing, unreadable, malformed or hostile.
class GgufError : public Error {
public:
    using Error::Error;
};

// The model is well-formed GGUF but not something the engine can run (architecture, tensor type, shape).
class UnsupportedModelError : public Error {
public:
    using Error::Error;
};

// A request that cannot be served as asked (prompt longer than the context, bad parameter).
class InvalidRequestError : public Error {
public:
    using Error::Error;
};

}  // namespace peregrine
