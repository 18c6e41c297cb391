#include <cstdio>
int main() { std::puts("peregrine-cli: under construction"); return 0; }
