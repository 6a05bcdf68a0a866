/** `npm run demo`: the platform with the embedded toy-world demo. */
process.stderr.write(
  "The web platform is not built yet. Meanwhile the engine runs from the command line:\n" +
    "  npm run neurflow -- circuit --manifest tests/fixtures/toyworld-a/manifest.json \\\n" +
    "    --images tests/fixtures/toyworld-a/images/bee --class bee --layers fc,layer4.1,layer4.0 --tau 8 --out circuit.json\n",
);
