from isolane.cli import main

main()
