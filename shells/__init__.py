"""shells"""
