// Hardhat's in-process network as benchmarks/peers.py runs it: automine, the Shanghai EVM the
// Vyper contracts are compiled for, gas price 0 so the same dev keys need no balance top-up.
module.exports = {
  networks: {
    hardhat: {
      hardfork: "shanghai",
      chainId: 31337,
      mining: { auto: true },
      allowUnlimitedContractSize: true,
      gasPrice: 0,
      initialBaseFeePerGas: 0,
    },
  },
};
