#pragma once
// Template definitions of communicator.hpp; included by it, not meant to be included directly.
#include <exception>
#include <utility>
