// Boost.JSON's compiled part, once for the whole program (the library is header-only unless
// one translation unit includes this): the API renders JSON with it, and the envelope parser
// falls back to it for numbers simdjson cannot hold.
#include <boost/json/src.hpp>
