"""Build-time tooling: the Solidity compiler (through py-solc-x) and the embedded node binary."""
