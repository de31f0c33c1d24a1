from cbrun.cli import main

main()
